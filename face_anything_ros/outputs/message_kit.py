"""Build ROS messages the same way for rclpy (the live node) and rosbags (offline bag replay).

The conversions in ``conversions.py`` describe each output message once, by ROS type name and
fields; a kit turns that description into a concrete message object:

* ``RclpyKit`` makes rclpy message instances (needs the ROS 2 Python message packages);
* ``RosbagsKit`` makes rosbags dataclasses from a typestore (pure Python, no ROS install), filling
  every field the description leaves out with its ROS default, as rclpy does.

Arrays are passed as numpy arrays and converted to what each library stores fastest.
"""

from __future__ import annotations

import array
import importlib
from typing import Any, Protocol

import numpy as np

# numpy dtype and array.array typecode of each primitive ROS array element type.
_PRIMITIVES: dict[str, tuple[str, str]] = {
    "float32": ("<f4", "f"),
    "float64": ("<f8", "d"),
    "uint8": ("u1", "B"),
    "int8": ("i1", "b"),
    "uint16": ("<u2", "H"),
    "int16": ("<i2", "h"),
    "uint32": ("<u4", "I"),
    "int32": ("<i4", "i"),
}


class MessageKit(Protocol):
    """Constructs messages by ROS type name ("pkg/msg/Type")."""

    def new(self, type_name: str, **fields: Any) -> Any: ...

    def array(self, values: Any, element_type: str) -> Any: ...

    def byte(self, value: int) -> Any: ...

    def factory(self, type_name: str) -> Any: ...


class RclpyKit:
    """Messages as rclpy objects (``sensor_msgs.msg.Image`` …)."""

    def __init__(self) -> None:
        self._classes: dict[str, type] = {}

    def message_class(self, type_name: str) -> type:
        cls = self._classes.get(type_name)
        if cls is None:
            package, _, name = type_name.split("/")
            cls = getattr(importlib.import_module(f"{package}.msg"), name)
            self._classes[type_name] = cls
        return cls

    def new(self, type_name: str, **fields: Any) -> Any:
        return self.message_class(type_name)(**fields)

    def factory(self, type_name: str) -> type:
        """The constructor itself, for building many small messages fast."""
        return self.message_class(type_name)

    def array(self, values: Any, element_type: str) -> Any:
        if element_type == "bool":
            return np.asarray(values, dtype=bool).ravel().tolist()
        if element_type == "string":
            return [str(v) for v in values]
        dtype, code = _PRIMITIVES[element_type]
        out = array.array(code)
        out.frombytes(memoryview(np.ascontiguousarray(values, dtype=dtype).reshape(-1)).cast("B"))  # one copy
        return out

    def byte(self, value: int) -> bytes:
        """A ROS ``byte`` field (rclpy stores it as a length-1 bytes object)."""
        return bytes([value])


class RosbagsKit:
    """Messages as rosbags dataclasses from ``typestore`` (which must hold every type used)."""

    def __init__(self, typestore: Any) -> None:
        self.typestore = typestore

    def new(self, type_name: str, **fields: Any) -> Any:
        _, field_defs = self.typestore.fielddefs[type_name]
        values = {name: fields[name] if name in fields else self._default(spec) for name, spec in field_defs}
        unknown = set(fields) - set(values)
        if unknown:
            raise TypeError(f"{type_name} has no field(s) {sorted(unknown)}")
        return self.typestore.types[type_name](**values)

    def array(self, values: Any, element_type: str) -> Any:
        if element_type == "bool":
            return np.asarray(values, dtype=bool).ravel()
        if element_type == "string":
            return [str(v) for v in values]
        return np.ascontiguousarray(values, dtype=_PRIMITIVES[element_type][0]).ravel()

    def byte(self, value: int) -> int:
        return int(value)

    def factory(self, type_name: str) -> type:
        """The dataclass itself, for many small messages fast (every field must then be given)."""
        return self.typestore.types[type_name]

    def _default(self, spec: tuple[Any, Any]) -> Any:
        from rosbags.interfaces import Nodetype  # optional dependency: only the bag route needs it

        node_type, detail = spec
        if node_type == Nodetype.NAME:
            return self.new(detail)
        if node_type == Nodetype.BASE:
            base = detail[0]
            if base == "string":
                return ""
            if base == "bool":
                return False
            return 0.0 if base.startswith("float") else 0
        if node_type == Nodetype.SEQUENCE:
            element, _ = detail
            if element[0] == Nodetype.BASE and element[1][0] in _PRIMITIVES:
                return np.zeros(0, dtype=_PRIMITIVES[element[1][0]][0])
            if element[0] == Nodetype.BASE and element[1][0] == "bool":
                return np.zeros(0, dtype=bool)
            return []
        element, length = detail  # fixed-size ARRAY
        if element[0] == Nodetype.BASE and element[1][0] in _PRIMITIVES:
            return np.zeros(length, dtype=_PRIMITIVES[element[1][0]][0])
        return [self._default(element) for _ in range(length)]
