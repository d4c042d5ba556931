// Op parity: every op of the CPU backend against the plain reference backend, on shapes that
// include the awkward ones (one row, odd sizes, head dims that are not powers of two).
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "compute/backend.hpp"
#include "hades/error.hpp"

namespace hades {
namespace {

std::vector<float> random_vector(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

void expect_close(const std::vector<float>& expected, const std::vector<float>& actual,
                  float tolerance) {
  ASSERT_EQ(expected.size(), actual.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    ASSERT_NEAR(expected[i], actual[i], tolerance * (1.0f + std::fabs(expected[i])))
        << "at index " << i;
  }
}

class OpsTest : public ::testing::Test {
 protected:
  std::unique_ptr<Backend> reference_ = make_reference_backend();
  std::unique_ptr<Backend> cpu_ = make_cpu_backend();

  // A linear layer of ROWS rows, run with teams of 1, 2, 3 and 7 threads, against the reference.
  void few_rows_on_any_number_of_threads(int64_t rows, int64_t in, int64_t out);
};

struct LinearCase {
  int64_t rows, in, out;
  bool bias;
  Activation act;
};

TEST_F(OpsTest, LinearMatchesReference) {
  const std::vector<LinearCase> cases = {
      {1, 8, 4, true, Activation::none},
      {17, 384, 1152, true, Activation::none},
      {33, 384, 1536, true, Activation::gelu_erf},
      {5, 40, 24, false, Activation::gelu_tanh},
      {64, 96, 80, true, Activation::relu},
      {300, 32, 32, false, Activation::none},
      // Cut into chunks of up to 512 rows where a matmul's row count is fixed (brgemm).
      {1100, 48, 40, true, Activation::gelu_erf},
      {9, 24, 40, true, Activation::tanh},
      {70, 48, 56, false, Activation::silu},
      {3, 48, 56, true, Activation::silu},
      {0, 16, 16, true, Activation::gelu_erf},
      // Up to 8 rows the CPU backend's own small kernel (small_gemm.cpp) runs on AVX2: panels of
      // 16 columns and a tail, weight rows split between the threads.
      {8, 384, 1536, true, Activation::gelu_erf},
      {7, 1536, 384, true, Activation::none},
      {3, 100, 20, true, Activation::relu},
      {2, 5, 3, false, Activation::none},
      // On AVX-512, up to 64 rows of a layer whose outputs are whole panels of 64 run on
      // panel_gemm.cpp: tiles of up to 6 rows, steps of 128 weight rows, both weight layouts
      // (brgemm's blocks, and the plain matrix of K > 1024), K not a multiple of 16.
      {64, 384, 384, true, Activation::gelu_erf},
      {13, 200, 128, false, Activation::tanh},
      {1, 1536, 384, true, Activation::relu},
      {40, 1100, 192, true, Activation::gelu_tanh},
      // SiLU through oneDNN's swish post-op (alpha 1) and through the own kernels' epilogue.
      {3, 100, 20, true, Activation::silu},
      {64, 384, 384, false, Activation::silu},
      {600, 48, 40, true, Activation::silu},
  };
  uint32_t seed = 1;
  for (const LinearCase& c : cases) {
    SCOPED_TRACE(testing::Message() << c.rows << "x" << c.in << "->" << c.out);
    const auto w = random_vector(static_cast<size_t>(c.in * c.out), seed++, 0.2f);
    const auto b =
        c.bias ? random_vector(static_cast<size_t>(c.out), seed++) : std::vector<float>{};
    const auto x = random_vector(static_cast<size_t>(c.rows * c.in), seed++);
    const LinearWeights weights{w, b, c.in, c.out};
    std::vector<float> expected(static_cast<size_t>(c.rows * c.out));
    std::vector<float> actual(expected.size());
    reference_->linear(*reference_->pack_linear(weights), x.data(), c.rows, expected.data(), c.act);
    cpu_->linear(*cpu_->pack_linear(weights), x.data(), c.rows, actual.data(), c.act);
    expect_close(expected, actual, 2e-5f);
  }
}

TEST_F(OpsTest, LinearAddAccumulatesIntoTheResidual) {
  struct Shape {
    int64_t rows, in, out;
  };
  // oneDNN's kernel, the small one, then panel_gemm with either weight layout (on AVX-512)
  for (const Shape shape :
       {Shape{37, 48, 40}, Shape{6, 48, 40}, Shape{11, 384, 128}, Shape{30, 1536, 64}}) {
    const auto [rows, in, out] = shape;
    SCOPED_TRACE(rows);
    const auto w = random_vector(in * out, 21, 0.2f);
    const auto b = random_vector(out, 22);
    const auto x = random_vector(rows * in, 23);
    const auto residual = random_vector(rows * out, 24);
    const LinearWeights weights{w, b, in, out};
    auto expected = residual;
    auto actual = residual;
    reference_->linear_add(*reference_->pack_linear(weights), x.data(), rows, expected.data());
    cpu_->linear_add(*cpu_->pack_linear(weights), x.data(), rows, actual.data());
    expect_close(expected, actual, 2e-5f);
  }
}

// The small kernel splits the weight rows between however many threads the caller's team has,
// evenly or not, and adds their partial sums.
TEST_F(OpsTest, AFewRowsGiveTheSameLinearOnAnyNumberOfThreads) {
  for (const int64_t out : {72, 192}) {  // small_gemm's columns; panel_gemm's 3 panels
    SCOPED_TRACE(out);
    few_rows_on_any_number_of_threads(5, 200, out);
  }
}

void OpsTest::few_rows_on_any_number_of_threads(int64_t rows, int64_t in, int64_t out) {
  const auto w = random_vector(in * out, 31, 0.2f);
  const auto b = random_vector(out, 32);
  const auto x = random_vector(rows * in, 33);
  const LinearWeights weights{w, b, in, out};
  std::vector<float> expected(rows * out);
  reference_->linear(*reference_->pack_linear(weights), x.data(), rows, expected.data(),
                     Activation::gelu_tanh);
  const auto layer = cpu_->pack_linear(weights);
  const int threads_before = omp_get_max_threads();
  for (const int threads : {1, 2, 3, 7}) {
    SCOPED_TRACE(threads);
    omp_set_num_threads(threads);
    std::vector<float> actual(expected.size());
    cpu_->linear(*layer, x.data(), rows, actual.data(), Activation::gelu_tanh);
    expect_close(expected, actual, 2e-5f);
  }
  omp_set_num_threads(threads_before);
}

TEST_F(OpsTest, OutOfPlaceLayerNormLeavesItsInput) {
  const int64_t rows = 9, dim = 40;
  const auto x = random_vector(rows * dim, 25, 2.0f);
  const auto gamma = random_vector(dim, 26);
  const LayerNormParams params{gamma, {}, 1e-5f};
  std::vector<float> expected(x.size()), actual(x.size());
  reference_->layer_norm(x.data(), rows, dim, params, expected.data());
  const auto before = x;
  cpu_->layer_norm(x.data(), rows, dim, params, actual.data());
  expect_close(expected, actual, 1e-5f);
  EXPECT_EQ(before, x);
}

TEST_F(OpsTest, AddLayerNormMatchesReference) {
  for (const bool with_residual : {false, true}) {
    for (const bool with_beta : {false, true}) {
      const int64_t rows = 13;
      const int64_t dim = 384;
      auto x = random_vector(rows * dim, 7, 3.0f);
      for (float& v : x) v += 50.0f;  // a large mean must not cost precision
      const auto residual = random_vector(rows * dim, 8);
      const auto gamma = random_vector(dim, 9);
      const auto beta = with_beta ? random_vector(dim, 10) : std::vector<float>{};
      const LayerNormParams params{gamma, beta, 1e-12f};
      auto expected = x;
      auto actual = x;
      const float* r = with_residual ? residual.data() : nullptr;
      reference_->add_layer_norm(expected.data(), r, rows, dim, params);
      cpu_->add_layer_norm(actual.data(), r, rows, dim, params);
      expect_close(expected, actual, 1e-5f);
    }
  }
}

// Full, windowed, grouped-query (kv heads dividing the heads: the q block has `heads` heads, k
// and v `kv_heads` each) and causal attention, sequences past one query block (64 rows) included.
TEST_F(OpsTest, AttentionMatchesReferenceOnRaggedBatches) {
  struct Case {
    std::vector<int32_t> cu;
    int64_t heads, head_dim, window, kv_heads;
    bool causal;
  };
  const std::vector<Case> cases = {
      {{0, 1}, 1, 8, 0, 1, false},
      {{0, 5, 6, 40}, 12, 32, 0, 12, false},
      {{0, 3, 50, 51}, 5, 12, 0, 5, false},
      {{0, 70, 71, 200}, 4, 16, 16, 4, false},
      {{0, 9}, 3, 20, 4, 3, false},
      {{0, 0, 7}, 2, 8, 0, 2, false},
      {{0, 1}, 2, 8, 0, 1, true},
      {{0, 5, 6, 40}, 4, 16, 0, 2, true},
      {{0, 3, 150, 151}, 6, 12, 0, 2, true},
      {{0, 70, 200}, 4, 16, 0, 4, true},
      {{0, 9, 30}, 8, 32, 0, 1, false},
  };
  uint32_t seed = 100;
  for (const Case& c : cases) {
    const int64_t tokens = c.cu.back();
    const int64_t width = (c.heads + 2 * c.kv_heads) * c.head_dim;
    const auto qkv = random_vector(static_cast<size_t>(tokens * width), seed++);
    AttentionParams params{c.cu, c.heads, c.head_dim,
                           1.0f / std::sqrt(static_cast<float>(c.head_dim)), c.window};
    params.num_kv_heads = c.kv_heads;
    params.causal = c.causal;
    std::vector<float> expected(static_cast<size_t>(tokens * c.heads * c.head_dim));
    std::vector<float> actual(expected.size());
    reference_->attention(qkv.data(), params, expected.data());
    cpu_->attention(qkv.data(), params, actual.data());
    expect_close(expected, actual, 1e-5f);
  }
}

TEST_F(OpsTest, AttentionOfASequenceIgnoresTheOthersInTheBatch) {
  const int64_t heads = 2;
  const int64_t head_dim = 8;
  const auto qkv = random_vector(20 * 3 * heads * head_dim, 5);
  const std::vector<int32_t> batch_cu = {0, 7, 20};
  const std::vector<int32_t> alone_cu = {0, 13};
  std::vector<float> batch(20 * heads * head_dim);
  std::vector<float> alone(13 * heads * head_dim);
  cpu_->attention(qkv.data(), {batch_cu, heads, head_dim, 0.35f, 0}, batch.data());
  cpu_->attention(qkv.data() + 7 * 3 * heads * head_dim, {alone_cu, heads, head_dim, 0.35f, 0},
                  alone.data());
  for (size_t i = 0; i < alone.size(); ++i) {
    ASSERT_EQ(alone[i], batch[7 * heads * head_dim + i]);
  }
}

TEST_F(OpsTest, RotaryMatchesReferenceAndRestartsPerSequence) {
  for (const float theta : {10000.0f, 160000.0f}) {
    const std::vector<int32_t> cu = {0, 1, 37, 40};
    const int64_t heads = 3;
    const int64_t head_dim = 20;
    const auto qkv = random_vector(40 * 3 * heads * head_dim, 11);
    auto expected = qkv;
    auto actual = qkv;
    const RotaryParams params{cu, heads, head_dim, theta};
    reference_->rotary(expected.data(), params);
    cpu_->rotary(actual.data(), params);
    expect_close(expected, actual, 2e-6f);
    // The v block is untouched, and position 0 (every sequence's first token) is the identity.
    for (int64_t i = 0; i < heads * head_dim; ++i) {
      ASSERT_EQ(actual[2 * heads * head_dim + i], qkv[2 * heads * head_dim + i]);
      ASSERT_EQ(actual[37 * 3 * heads * head_dim + i], qkv[37 * 3 * heads * head_dim + i]);
    }
  }
}

TEST_F(OpsTest, GatedActivationMatchesReference) {
  for (const Activation act :
       {Activation::gelu_erf, Activation::gelu_tanh, Activation::relu, Activation::silu}) {
    const int64_t rows = 300;
    const int64_t width = 56;
    const auto x = random_vector(rows * 2 * width, 12);
    std::vector<float> expected(rows * width);
    std::vector<float> actual(expected.size());
    reference_->gated_activation(x.data(), rows, width, act, expected.data());
    cpu_->gated_activation(x.data(), rows, width, act, actual.data());
    expect_close(expected, actual, 1e-6f);
  }
}

// SwiGLU's gate far out on both sides: x · sigmoid(x) must neither overflow nor lose the sign.
TEST_F(OpsTest, SiluGateHoldsAtTheExtremes) {
  const std::vector<float> gates = {-1000.0f, -100.0f, -88.0f, -20.0f, -1.5f,  -1e-6f, 0.0f,
                                    1e-6f,    0.75f,   20.0f,  88.0f,  100.0f, 1000.0f};
  const auto width = static_cast<int64_t>(gates.size());
  std::vector<float> x(gates);
  x.insert(x.end(), gates.size(), 2.0f);  // the up half
  std::vector<float> expected(gates.size());
  std::vector<float> actual(gates.size());
  reference_->gated_activation(x.data(), 1, width, Activation::silu, expected.data());
  cpu_->gated_activation(x.data(), 1, width, Activation::silu, actual.data());
  for (size_t i = 0; i < gates.size(); ++i) {
    const double g = gates[i];
    const double want = 2.0 * g / (1.0 + std::exp(-g));
    EXPECT_NEAR(expected[i], want, 1e-6 * std::max(1.0, std::abs(want))) << g;
    EXPECT_NEAR(actual[i], want, 1e-6 * std::max(1.0, std::abs(want))) << g;
  }
}

TEST_F(OpsTest, EmbeddingLookupMatchesReferenceAndRejectsBadIds) {
  const auto table = random_vector(10 * 6, 3);
  const std::vector<int32_t> ids = {9, 0, 4, 4};
  for (const bool accumulate : {false, true}) {
    std::vector<float> expected(ids.size() * 6, 1.0f);
    std::vector<float> actual = expected;
    reference_->embedding_lookup(table.data(), 10, 6, ids, expected.data(), accumulate);
    cpu_->embedding_lookup(table.data(), 10, 6, ids, actual.data(), accumulate);
    expect_close(expected, actual, 0.0f);
  }
  std::vector<float> out(6);
  const std::vector<int32_t> bad = {10};
  for (const auto* backend : {reference_.get(), cpu_.get()}) {
    try {
      backend->embedding_lookup(table.data(), 10, 6, bad, out.data(), false);
      FAIL() << backend->name() << " accepted an out-of-range id";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::input_invalid);
      EXPECT_NE(std::string(e.what()).find("10"), std::string::npos);
    }
  }
}

TEST_F(OpsTest, CausalAttentionOfATokenIgnoresTheTokensAfterIt) {
  const int64_t heads = 4;
  const int64_t kv_heads = 2;
  const int64_t head_dim = 16;
  const int64_t width = (heads + 2 * kv_heads) * head_dim;
  const auto qkv = random_vector(90 * width, 21);
  auto changed = qkv;
  for (size_t i = 60 * width; i < changed.size(); ++i) changed[i] += 1.0f;
  const std::vector<int32_t> cu = {0, 90};
  AttentionParams params{cu, heads, head_dim, 0.25f};
  params.num_kv_heads = kv_heads;
  params.causal = true;
  for (const auto* backend : {reference_.get(), cpu_.get()}) {
    std::vector<float> out(90 * heads * head_dim);
    std::vector<float> out_changed(out.size());
    backend->attention(qkv.data(), params, out.data());
    backend->attention(changed.data(), params, out_changed.data());
    for (size_t i = 0; i < static_cast<size_t>(60 * heads * head_dim); ++i) {
      ASSERT_EQ(out[i], out_changed[i]) << backend->name() << " at " << i;
    }
    EXPECT_NE(out.back(), out_changed.back()) << backend->name();
  }
}

TEST_F(OpsTest, RotaryOfGroupedQueryHeadsMatchesReference) {
  const std::vector<int32_t> cu = {0, 3, 80};
  const int64_t heads = 4;
  const int64_t kv_heads = 2;
  const int64_t head_dim = 24;
  const int64_t width = (heads + 2 * kv_heads) * head_dim;
  const auto qkv = random_vector(80 * width, 22);
  auto expected = qkv;
  auto actual = qkv;
  RotaryParams params{cu, heads, head_dim, 1000000.0f};
  params.num_kv_heads = kv_heads;
  reference_->rotary(expected.data(), params);
  cpu_->rotary(actual.data(), params);
  expect_close(expected, actual, 2e-6f);
  for (int64_t t = 0; t < 80; ++t) {  // the v block is untouched
    for (int64_t i = (heads + kv_heads) * head_dim; i < width; ++i) {
      ASSERT_EQ(actual[t * width + i], qkv[t * width + i]);
    }
  }
}

TEST_F(OpsTest, RmsNormMatchesReferenceInAndOutOfPlace) {
  for (const int64_t dim : {1, 24, 1000}) {
    const int64_t rows = 40;
    const auto x = random_vector(rows * dim, 23, 3.0f);
    const auto gamma = random_vector(dim, 24);
    const RmsNormParams params{gamma, 1e-6f};
    std::vector<float> expected(x.size());
    std::vector<float> actual(x.size());
    reference_->rms_norm(x.data(), rows, dim, params, expected.data());
    cpu_->rms_norm(x.data(), rows, dim, params, actual.data());
    expect_close(expected, actual, 1e-6f);
    auto in_place = x;
    cpu_->rms_norm(in_place.data(), rows, dim, params, in_place.data());
    expect_close(actual, in_place, 0.0f);
  }
}

TEST_F(OpsTest, HeadRmsNormNormalizesEachQAndKHeadAndLeavesV) {
  const int64_t tokens = 300;
  const int64_t heads = 4;
  const int64_t kv_heads = 2;
  const int64_t head_dim = 16;
  const int64_t width = (heads + 2 * kv_heads) * head_dim;
  const auto qkv = random_vector(tokens * width, 25, 2.0f);
  const auto q_gamma = random_vector(head_dim, 26);
  const auto k_gamma = random_vector(head_dim, 27);
  const HeadNormParams params{tokens,           heads,           kv_heads, head_dim,
                              {q_gamma, 1e-6f}, {k_gamma, 1e-6f}};
  auto expected = qkv;
  auto actual = qkv;
  reference_->head_rms_norm(expected.data(), params);
  cpu_->head_rms_norm(actual.data(), params);
  expect_close(expected, actual, 1e-6f);
  // Head by head, each is the plain rms_norm of its values with its block's gamma.
  for (int64_t h = 0; h < heads + 2 * kv_heads; ++h) {
    const float* head = qkv.data() + width + h * head_dim;  // token 1
    std::vector<float> alone(head_dim);
    if (h < heads + kv_heads) {
      reference_->rms_norm(head, 1, head_dim, h < heads ? params.q : params.k, alone.data());
    } else {
      alone.assign(head, head + head_dim);
    }
    const std::vector<float> got(actual.begin() + width + h * head_dim,
                                 actual.begin() + width + (h + 1) * head_dim);
    expect_close(alone, got, 1e-6f);
  }
}

}  // namespace
}  // namespace hades
