"""An extractor on the hades service: ``HadesNamedEntityExtractor`` (token classification), with
its ``NamedEntityAnnotation``."""

from .named_entity_extractor import HadesNamedEntityExtractor, NamedEntityAnnotation

__all__ = ["HadesNamedEntityExtractor", "NamedEntityAnnotation"]
