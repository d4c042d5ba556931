"""What every hades component shares: its model in the hades service, and the clients that reach it.

A component holds no weights: the hades service (``hades serve``) does, and keeps them between
pipeline runs and across processes. A component keeps a blocking ``hades.ModelClient`` for ``run``
and, for ``run_async``, a ``hades.aio.ModelClient`` bound to the event loop that runs it; both are
made on first use, so that building or deserializing a component touches neither the environment
nor the service.
"""

import asyncio
import math
import threading
import weakref
from typing import Any, Dict, List, Optional, Set, Union

import hades
import hades.aio
from haystack import Document
from haystack.utils import ComponentDevice

__all__ = ["HadesService", "DeviceLike", "l2_normalized", "whole_number", "check_documents",
           "batches"]

DeviceLike = Union[ComponentDevice, str, None]

# Tasks that close an asyncio client from synchronous code in its own running loop; held here so
# that the loop does not drop them half done (asyncio keeps only weak references to tasks).
_closing_tasks: Set["asyncio.Task[None]"] = set()


def _component_device(device: DeviceLike) -> Optional[ComponentDevice]:
    if device is None or isinstance(device, ComponentDevice):
        return device
    if isinstance(device, str):
        return ComponentDevice.from_str(device)
    raise ValueError(f"device must be a ComponentDevice, a device name such as 'cpu' or "
                     f"'cuda:0', or None, got {type(device).__name__}")


def whole_number(name: str, value: int, minimum: int) -> int:
    """VALUE, the parameter NAME, refused (ValueError) unless it is a whole number of at least
    MINIMUM."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be a whole number of at least {minimum}, got {value!r}")
    return value


def check_documents(documents: Any, component: str) -> List[Document]:
    """DOCUMENTS, refused (TypeError) unless it is a list of Documents."""
    if not isinstance(documents, list) or not all(isinstance(d, Document) for d in documents):
        raise TypeError(f"{component} expects a list of Documents as input.")
    return documents


def batches(items: List[Any], size: int) -> List[List[Any]]:
    """ITEMS cut into consecutive lists of at most SIZE."""
    return [items[first:first + size] for first in range(0, len(items), size)]


def l2_normalized(vector: List[float]) -> List[float]:
    """VECTOR divided by its Euclidean norm (a zero vector stays zero, as torch's normalize
    leaves it)."""
    norm = math.sqrt(math.fsum(x * x for x in vector))
    return [x / max(norm, 1e-12) for x in vector]


def _close_async_client(client: "hades.aio.ModelClient",
                        loop: Optional[asyncio.AbstractEventLoop]) -> None:
    """Closes CLIENT's kept-alive connections from synchronous code, on LOOP, which owns them."""
    if loop is None or loop.is_closed():
        return  # a closed loop cannot run the close: its sockets close when collected
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        task = loop.create_task(client.close())
        _closing_tasks.add(task)
        task.add_done_callback(_closing_tasks.discard)
    elif loop.is_running():
        asyncio.run_coroutine_threadsafe(client.close(), loop)
    elif running is None:
        loop.run_until_complete(client.close())
    # Else another loop runs in this thread, which cannot run LOOP: its sockets close when
    # collected.


class HadesService:
    """The part of a hades component that deals with the service: which model, where it loads,
    the clients, ``warm_up`` / ``close`` and their async twins. Not a component itself.

    :param model: a Hugging Face id ("org/name", taken from the HF cache or downloaded by the
        service) or the absolute path of a model folder.
    :param device: where the service loads the model: a ``ComponentDevice`` or a name ("cpu",
        "cuda:0"); None leaves it to the service (``HADES_DEFAULT_DEVICE``, else its default).
    :param pin: ``warm_up`` loads the model pinned, so that the service never evicts it.
    :param dtype: the precision ``warm_up`` loads the model's linear layers in: "fp32", "int8",
        "bf16" or "auto"; None: fp32, or the dtype the model is already loaded in.
    :param socket_path: the service's socket; None: ``HADES_MODEL_MGR_SOCKET``, else the
        default (``/tmp/hades_model_mgr.sock``).
    :param autostart: start the service when it is not running; None:
        ``HADES_RUNTIME_AUTOSTART`` ("1" by default).
    :param request_timeout: seconds a request may take, model loads included; None: the
        client's default (600).
    """

    def __init__(self, model: str, device: DeviceLike, pin: bool, dtype: Optional[str],
                 socket_path: Optional[str], autostart: Optional[bool],
                 request_timeout: Optional[float]) -> None:
        if not isinstance(model, str) or not model:
            raise ValueError("model must name a model: a Hugging Face id or a model folder")
        self.model = model
        self.device = _component_device(device)
        self.pin = pin
        self.dtype = dtype
        self.socket_path = socket_path
        self.autostart = autostart
        self.request_timeout = request_timeout
        self._lock = threading.Lock()
        self._client: Optional[hades.ModelClient] = None
        self._aio_client: Optional[hades.aio.ModelClient] = None
        self._aio_loop: Optional["weakref.ReferenceType[asyncio.AbstractEventLoop]"] = None
        self._warm = False

    # ---- what to_dict writes for these parameters ------------------------------------------

    def _service_parameters(self) -> Dict[str, Any]:
        return {"model": self.model, "device": self.device, "pin": self.pin, "dtype": self.dtype,
                "socket_path": self.socket_path, "autostart": self.autostart,
                "request_timeout": self.request_timeout}

    def _device_name(self) -> Optional[str]:
        return None if self.device is None else self.device.to_torch_str()

    # ---- clients ---------------------------------------------------------------------------

    def _client_keywords(self) -> Dict[str, Any]:
        return {"socket_path": self.socket_path, "autostart": self.autostart,
                "request_timeout": self.request_timeout}

    def _blocking_client(self) -> hades.ModelClient:
        with self._lock:
            if self._client is None:
                self._client = hades.ModelClient(**self._client_keywords())
            return self._client

    def _async_client(self) -> hades.aio.ModelClient:
        """The asyncio client of the running loop. An asyncio client serves one loop; a
        component run by another loop (a later ``asyncio.run``) gets a new one."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._aio_client is None or self._aio_loop is None or self._aio_loop() is not loop:
                old, old_loop = self._aio_client, self._aio_loop
                self._aio_client = hades.aio.ModelClient(**self._client_keywords())
                self._aio_loop = weakref.ref(loop)
            else:
                return self._aio_client
            client = self._aio_client
        if old is not None and old_loop is not None:
            _close_async_client(old, old_loop())
        return client

    # ---- lifetime --------------------------------------------------------------------------

    def warm_up(self) -> None:
        """Loads the model in the service (pinned and in ``dtype`` when asked), once; it raises
        the service's error, e.g. ``hades.ModelNotFoundError`` for an unknown model. A later
        call does nothing: the service keeps the model, and reloads an evicted one (unpinned,
        in fp32) on its next request."""
        if self._warm:
            return
        self._blocking_client().load_model(self.model, device=self._device_name(), pin=self.pin,
                                           dtype=self.dtype)
        self._warm = True

    async def warm_up_async(self) -> None:
        """``warm_up`` on the asyncio client of the running loop."""
        if self._warm:
            return
        await self._async_client().load_model(self.model, device=self._device_name(),
                                              pin=self.pin, dtype=self.dtype)
        self._warm = True

    def close(self) -> None:
        """Closes the component's connections to the service. The model stays loaded there; the
        component stays usable and connects again when it next runs."""
        with self._lock:
            client, self._client = self._client, None
            aio_client, self._aio_client = self._aio_client, None
            aio_loop, self._aio_loop = self._aio_loop, None
        if client is not None:
            client.close()
        if aio_client is not None and aio_loop is not None:
            _close_async_client(aio_client, aio_loop())

    def __del__(self) -> None:
        # A component dropped without close() frees its kept-alive sockets quietly. An asyncio
        # client cannot be closed here: close_async() does that, in its loop.
        client = self.__dict__.get("_client")
        if client is not None:
            client.close()

    async def close_async(self) -> None:
        """``close``, awaiting the asyncio client's close when it belongs to the running loop."""
        loop = asyncio.get_running_loop()
        with self._lock:
            aio_client, self._aio_client = self._aio_client, None
            aio_loop, self._aio_loop = self._aio_loop, None
        if aio_client is not None and aio_loop is not None and aio_loop() is loop:
            await aio_client.close()
        elif aio_client is not None and aio_loop is not None:
            _close_async_client(aio_client, aio_loop())
        self.close()
