"""A restricted interpreter of the pickle opcode stream, for PyTorch checkpoints; never ``pickle.load``.

A pickle is a program for a stack machine: most opcodes push data (ints, strings, tuples, dicts),
but ``GLOBAL`` imports any name and ``REDUCE`` calls it, which is how a malicious file runs code.
Here ``GLOBAL`` looks the name up in an allow-list of *local stand-ins* (``globals_``) and nothing
is imported; ``REDUCE`` and ``BUILD`` apply only those stand-ins; the object-building opcodes that
need a real class (``INST``, ``OBJ``, ``NEWOBJ``, extension registry) are refused. Every refusal is
a ``SerializationError`` that names the opcode or the global.
"""

from __future__ import annotations

import struct
from typing import Any, Callable

from deepling.serialization.fileio import SerializationError

__all__ = ["Unpickler", "Global"]


class Global:
    """An allow-listed name: ``call`` is what ``REDUCE`` runs (None: not callable), ``build`` what
    ``BUILD`` runs on an object it made (None: refused), ``value`` what ``GLOBAL`` pushes when the
    name is data (a dtype, a storage type)."""

    def __init__(self, name: str, call: Callable | None = None, value: Any = None,
                 build: Callable | None = None) -> None:
        self.name, self.call, self.value, self.build = name, call, value, build

    def __repr__(self) -> str:
        return f"<{self.name}>"


_MARK = object()


class Unpickler:
    """``Unpickler(data, globals_, persistent_load, where).load()``.

    ``globals_`` maps ``"module.name"`` to a ``Global``; ``persistent_load(pid)`` resolves a
    ``BINPERSID`` (PyTorch's storages).
    """

    def __init__(self, data: bytes, globals_: dict[str, Global], persistent_load: Callable[[Any], Any],
                 where: str, start: int = 0) -> None:
        # ``start``: where this pickle begins in ``data`` (legacy files are several pickles in a row);
        # after ``load``, ``pos`` is just past its STOP.
        self.data, self.pos, self.globals, self.persistent_load, self.where = data, start, globals_, persistent_load, where
        self.stack: list[Any] = []
        self.marks: list[int] = []
        self.memo: dict[int, Any] = {}
        self.built: dict[int, tuple[Any, Global]] = {}  # id(object) -> (object, the Global that made it), for BUILD

    # ------------------------------------------------------------------ reading
    def _fail(self, msg: str) -> SerializationError:
        return SerializationError(f"load: {self.where}: {msg}")

    def _take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise self._fail(f"the pickle stream is truncated (needs {n} bytes at offset {self.pos})")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def _line(self) -> str:
        end = self.data.find(b"\n", self.pos)
        if end < 0 or end - self.pos > 1000:
            raise self._fail("the pickle stream is truncated (an unterminated name)")
        s = self.data[self.pos:end].decode("utf-8", errors="replace")
        self.pos = end + 1
        return s

    def _u(self, fmt: str) -> int:
        return struct.unpack(fmt, self._take(struct.calcsize(fmt)))[0]

    def _pop(self) -> Any:
        if not self.stack or (self.marks and len(self.stack) <= self.marks[-1]):
            raise self._fail("malformed pickle (pop from an empty stack)")
        return self.stack.pop()

    def _pop_mark(self) -> list:
        if not self.marks:
            raise self._fail("malformed pickle (no MARK)")
        m = self.marks.pop()
        items = self.stack[m:]
        del self.stack[m:]
        return items

    def _top(self) -> Any:
        if not self.stack:
            raise self._fail("malformed pickle (empty stack)")
        return self.stack[-1]

    # ------------------------------------------------------------------ globals and calls
    def _global(self, module: str, name: str) -> Any:
        full = f"{module}.{name}"
        g = self.globals.get(full)
        if g is None:
            raise self._fail(f"refused global {full!r}: a weights file has no business naming it "
                             "(only tensors, storages, dtypes and containers are allowed; nothing was run)")
        return g.value if g.call is None else g

    def _reduce(self) -> None:
        args, func = self._pop(), self._pop()
        if not isinstance(func, Global) or func.call is None:
            raise self._fail(f"refused to call {func!r}: only the tensor and container rebuild functions may be "
                             "called")
        if not isinstance(args, tuple):
            raise self._fail(f"REDUCE of {func.name} expects an argument tuple, got {type(args).__name__}")
        try:
            out = func.call(*args)
        except SerializationError:
            raise
        except (TypeError, ValueError, IndexError, KeyError) as e:
            raise self._fail(f"bad arguments to {func.name}: {e}") from None
        self.built[id(out)] = (out, func)
        self.stack.append(out)

    def _build(self) -> None:
        state = self._pop()
        obj = self._top()
        g = self.built.get(id(obj), (None, None))[1]
        if g is None or g.build is None:
            raise self._fail(f"refused BUILD (setting the state of a {type(obj).__name__}); only the known rebuild "
                             "functions' results accept state")
        g.build(obj, state)

    # ------------------------------------------------------------------ the machine
    def load(self) -> Any:
        st, memo = self.stack, self.memo
        while True:
            op = self._take(1)[0]
            if op == 0x80:  # PROTO
                if self._take(1)[0] > 5:
                    raise self._fail("unsupported pickle protocol")
            elif op == 0x95:  # FRAME (a length prefix: nothing to do)
                self._take(8)
            elif op == 0x2E:  # STOP
                if len(st) != 1:
                    raise self._fail("malformed pickle (stack not a single object at STOP)")
                return st.pop()
            elif op == 0x28:  # MARK
                self.marks.append(len(st))
            elif op == 0x30:  # POP
                self._pop()
            elif op == 0x31:  # POP_MARK
                self._pop_mark()
            elif op == 0x32:  # DUP
                st.append(self._top())
            elif op == 0x4E:  # NONE
                st.append(None)
            elif op == 0x88:
                st.append(True)
            elif op == 0x89:
                st.append(False)
            elif op == 0x4A:  # BININT
                st.append(self._u("<i"))
            elif op == 0x4B:  # BININT1
                st.append(self._u("<B"))
            elif op == 0x4D:  # BININT2
                st.append(self._u("<H"))
            elif op == 0x8A:  # LONG1
                st.append(int.from_bytes(self._take(self._u("<B")), "little", signed=True))
            elif op == 0x8B:  # LONG4
                n = self._u("<i")
                if n > 1 << 16:
                    raise self._fail(f"refused a {n}-byte integer")
                st.append(int.from_bytes(self._take(n), "little", signed=True))
            elif op == 0x47:  # BINFLOAT
                st.append(struct.unpack(">d", self._take(8))[0])
            elif op == 0x58:  # BINUNICODE
                st.append(self._str(self._u("<I")))
            elif op == 0x8C:  # SHORT_BINUNICODE
                st.append(self._str(self._u("<B")))
            elif op == 0x8D:  # BINUNICODE8
                st.append(self._str(self._u("<Q")))
            elif op == 0x43:  # SHORT_BINBYTES
                st.append(self._take(self._u("<B")))
            elif op == 0x42:  # BINBYTES
                st.append(self._take(self._u("<I")))
            elif op == 0x8E:  # BINBYTES8
                st.append(self._take(self._u("<Q")))
            elif op == 0x55:  # SHORT_BINSTRING (protocol-2 str of a Python 2 pickle)
                st.append(self._take(self._u("<B")).decode("latin-1"))
            elif op == 0x54:  # BINSTRING
                st.append(self._take(self._u("<i")).decode("latin-1"))
            elif op == 0x29:  # EMPTY_TUPLE
                st.append(())
            elif op == 0x74:  # TUPLE
                st.append(tuple(self._pop_mark()))
            elif op in (0x85, 0x86, 0x87):  # TUPLE1..3
                n = op - 0x84
                items = [self._pop() for _ in range(n)][::-1]
                st.append(tuple(items))
            elif op == 0x5D:  # EMPTY_LIST
                st.append([])
            elif op == 0x6C:  # LIST
                st.append(self._pop_mark())
            elif op == 0x61:  # APPEND
                v = self._pop()
                self._list(self._top()).append(v)
            elif op == 0x65:  # APPENDS
                items = self._pop_mark()
                self._list(self._top()).extend(items)
            elif op == 0x7D:  # EMPTY_DICT
                st.append({})
            elif op == 0x64:  # DICT
                items = self._pop_mark()
                st.append(self._pairs({}, items))
            elif op == 0x73:  # SETITEM
                v, k = self._pop(), self._pop()
                self._pairs(self._top(), [k, v])
            elif op == 0x75:  # SETITEMS
                items = self._pop_mark()
                self._pairs(self._top(), items)
            elif op == 0x8F:  # EMPTY_SET
                st.append(set())
            elif op == 0x90:  # ADDITEMS
                items = self._pop_mark()
                target = self._top()
                if not isinstance(target, set):
                    raise self._fail("malformed pickle (ADDITEMS on a non-set)")
                self._hashable(items)
                target.update(items)
            elif op == 0x91:  # FROZENSET
                items = self._pop_mark()
                self._hashable(items)
                st.append(frozenset(items))
            elif op == 0x71:  # BINPUT
                memo[self._u("<B")] = self._top()
            elif op == 0x72:  # LONG_BINPUT
                memo[self._u("<I")] = self._top()
            elif op == 0x94:  # MEMOIZE
                memo[len(memo)] = self._top()
            elif op in (0x68, 0x6A):  # BINGET, LONG_BINGET
                i = self._u("<B" if op == 0x68 else "<I")
                if i not in memo:
                    raise self._fail(f"malformed pickle (memo entry {i} is missing)")
                st.append(memo[i])
            elif op == 0x63:  # GLOBAL
                module = self._line()
                st.append(self._global(module, self._line()))
            elif op == 0x93:  # STACK_GLOBAL
                name, module = self._pop(), self._pop()
                if not (isinstance(module, str) and isinstance(name, str)):
                    raise self._fail("malformed pickle (STACK_GLOBAL needs two strings)")
                st.append(self._global(module, name))
            elif op == 0x52:  # REDUCE
                self._reduce()
            elif op == 0x62:  # BUILD
                self._build()
            elif op == 0x51:  # BINPERSID
                st.append(self.persistent_load(self._pop()))
            else:
                names = {0x69: "INST", 0x6F: "OBJ", 0x81: "NEWOBJ", 0x92: "NEWOBJ_EX", 0x82: "EXT1", 0x83: "EXT2",
                         0x84: "EXT4", 0x50: "PERSID", 0x97: "NEXT_BUFFER", 0x98: "READONLY_BUFFER",
                         0x49: "INT", 0x4C: "LONG", 0x46: "FLOAT", 0x53: "STRING", 0x56: "UNICODE", 0x70: "PUT",
                         0x67: "GET", 0x96: "BYTEARRAY8"}
                raise self._fail(f"refused pickle opcode {names.get(op, hex(op))} at offset {self.pos - 1} "
                                 "(not needed for tensors and state dicts)")

    def _str(self, n: int) -> str:
        try:
            return self._take(n).decode("utf-8")
        except UnicodeDecodeError:
            raise self._fail("malformed pickle (a string is not UTF-8)") from None

    def _list(self, target: Any) -> list:
        if not isinstance(target, list):
            raise self._fail(f"malformed pickle (APPEND to a {type(target).__name__})")
        return target

    def _hashable(self, items: list) -> None:
        for k in items:
            try:
                hash(k)
            except TypeError:
                raise self._fail(f"malformed pickle (an unhashable {type(k).__name__} as a key)") from None

    def _pairs(self, target: Any, items: list) -> dict:
        if not isinstance(target, dict):
            raise self._fail(f"malformed pickle (SETITEM on a {type(target).__name__})")
        if len(items) % 2:
            raise self._fail("malformed pickle (odd number of dict items)")
        self._hashable(items[::2])
        for i in range(0, len(items), 2):
            target[items[i]] = items[i + 1]
        return target
