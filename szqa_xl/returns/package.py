"""The zip package of a returned workbook, opened as OPC opens it.

zipfile reads the archive; this module adds what a spreadsheet relies on and
zipfile does not check: part names compared as OPC compares them
(case-insensitive, rooted, ``/`` only), so that two names a spreadsheet would
take for one part are refused as duplicates; the archive's entries must tile
the file exactly (no second central directory, no entries that only one reader
would see); sizes and inflate ratios bounded before anything is inflated.
Problems are returned as :class:`~szqa_xl.problems.Problem` data without the
file name (the caller adds it).
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from posixpath import normpath

from szqa_xl.problems import Problem

MAX_FILE_BYTES = 20 * 1024 * 1024
"""A scoresheet with long comments is well under 1 MB; 20 MB is clearly not one."""
MAX_ENTRIES = 500
"""The template has ~20 zip entries; re-saving by Excel/WPS/LibreOffice adds a few dozen at most."""
MAX_UNCOMPRESSED = 200 * 1024 * 1024
"""Sum of declared uncompressed sizes: a zip bomb declares (or hides) gigabytes."""
MAX_RATIO = 100
"""Apache POI's rule: an entry inflating more than 100:1 is treated as a bomb."""
RATIO_MIN_SIZE = 1024 * 1024
"""Small, highly repetitive XML parts compress well legitimately; check the ratio above 1 MB."""

_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")  # the zip format's 30-byte local file header
_CENTRAL_FIXED = 46  # bytes of a central directory record before its name, extra and comment
_EOCD = 22  # end of central directory record, before its comment
_ZIP64_EOCD = 56 + 20  # zip64 end record and its locator
_DESCRIPTOR_SIG = b"PK\x07\x08"


def part_key(name: str) -> str:
    """The name OPC compares: rooted, forward slashes, case-folded (``/XL\\Workbook.xml`` = ``xl/workbook.xml``)."""
    return name.replace("\\", "/").lstrip("/").casefold()


def _normal_name(name: str) -> bool:
    """A zip entry name OPC can take for a part name: no empty, ``.`` or ``..`` segment.  A relationship's
    target is resolved to the normal form, and programs differ on whether ``xl/worksheets//sheet2.xml``
    is that part or another entry: a twin under such a name is how one file shows two sheets."""
    return all(seg not in ("", ".", "..") for seg in name.replace("\\", "/").lstrip("/").split("/"))


def resolve_target(source_part: str, target: str) -> str:
    """The part a relationship of ``source_part`` points at (OPC: relative to the source's folder)."""
    target = target.replace("\\", "/")
    if target.startswith("/"):
        full = target
    else:
        folder = source_part.rsplit("/", 1)[0] if "/" in source_part else ""
        full = f"/{folder}/{target}"
    return normpath(full).lstrip("/")


def rels_part(part: str) -> str:
    """``xl/workbook.xml`` -> ``xl/_rels/workbook.xml.rels``."""
    folder, _, name = part.rpartition("/")
    return f"{folder}/_rels/{name}.rels" if folder else f"_rels/{name}.rels"


def sniff(head: bytes) -> tuple[str, str] | None:
    """(code, clerk-readable message) for a file that is not a zip at all."""
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "legacy-xls", ""  # decided by the caller, which has the whole file
    lowered = head.lstrip().lower()
    if lowered.startswith((b"<!doctype html", b"<html", b"<table")):
        return (
            "not-xlsx",
            "这是改了扩展名的 HTML 文件，不是 .xlsx；请在 Excel 中打开后另存为“Excel 工作簿(*.xlsx)”",
        )
    if lowered.startswith(b"<?xml"):
        return (
            "not-xlsx",
            "这是 XML 文件（可能是 Excel 2003 XML），不是 .xlsx；请另存为“Excel 工作簿(*.xlsx)”",
        )
    if b"," in head or b"\t" in head or b";" in head:
        return "not-xlsx", "这是改了扩展名的文本/CSV 文件，不是 .xlsx；请使用下发的评分表填写"
    return None


def ole_kind(data: bytes) -> tuple[str, str]:
    """An OLE compound file is either an encrypted OOXML package or a legacy binary workbook.

    The encrypted kind holds a stream named ``EncryptedPackage`` (its directory
    stores names in UTF-16LE); this only chooses the message, the file is refused either way.
    """
    if "EncryptedPackage".encode("utf-16-le") in data:
        return "encrypted", "文件设置了打开密码（已加密），请在 Excel 中去掉密码后另存为 .xlsx 再发送"
    return (
        "legacy-xls",
        "这是旧版 .xls（Excel 97-2003）文件或加密的 Excel 文件，请在 Excel 中打开下发的评分表，"
        "另存为“Excel 工作簿(*.xlsx)”后发送",
    )


@dataclass
class Package:
    """An opened package: its parts by OPC key, read with size limits."""

    zf: zipfile.ZipFile
    parts: dict[str, zipfile.ZipInfo]
    read_keys: set[str] = field(default_factory=set)  # the parts read so far (by OPC key)

    def has(self, part: str) -> bool:
        return part_key(part) in self.parts

    def read(self, part: str, limit: int) -> bytes:
        """The inflated part; raises ``PartError`` if it is damaged or larger than ``limit``."""
        key = part_key(part)
        info = self.parts[key]
        self.read_keys.add(key)
        try:
            with self.zf.open(info) as fh:
                content = fh.read(limit + 1)
        except (
            zipfile.BadZipFile,
            EOFError,
            OSError,
            RuntimeError,
            ValueError,
            zlib.error,
            NotImplementedError,
        ) as exc:
            raise PartError(f"部件 {info.filename} 无法解压（{type(exc).__name__}），文件已损坏") from exc
        if len(content) > limit:
            raise PartError(
                f"部件 {info.filename} 解压后超过 {limit // 1024 // 1024} MB，疑似压缩炸弹或被篡改"
            )
        return content

    def close(self) -> None:
        self.zf.close()


class PartError(Exception):
    """A part could not be inflated or is too large (a problem of the file, reported as data)."""


def open_package(data: bytes) -> Package | Problem:
    """The package of a file's bytes, or the problem that refuses it."""

    def bad(code: str, message: str) -> Problem:
        return Problem(code, message)

    if not data:
        return bad("empty-file", "文件为空（0 字节），可能保存或传输未完成")
    if len(data) > MAX_FILE_BYTES:
        return bad("too-large", f"文件过大（{len(data) // 1024 // 1024} MB），评分表通常小于 1 MB")
    if not data.startswith(b"PK\x03\x04"):
        kind = sniff(data[:512])
        if kind and kind[0] == "legacy-xls":
            return bad(*ole_kind(data))
        if kind:
            return bad(*kind)
        return bad("not-xlsx", "不是有效的 .xlsx 文件；请使用下发的评分表填写并保存为 .xlsx")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, struct.error):
        return bad("corrupt-zip", "文件已损坏或不完整（压缩包无法打开），请重新保存后发送")
    infos = zf.infolist()
    problem = _check_entries(infos)
    if problem is None:
        problem = _check_layout(data, zf, infos)
    if problem is not None:
        zf.close()
        return problem
    parts = {part_key(i.filename): i for i in infos if not i.is_dir()}
    if "mimetype" in parts and "content.xml" in parts:
        zf.close()
        return bad(
            "ods",
            "这是 LibreOffice/WPS 的 ODS 表格（.ods），不是 Excel 工作簿；请在“文件 → 另存为”中选择"
            "“Excel 2007-365 (.xlsx)”格式保存后发送",
        )
    return Package(zf, parts)


def _check_entries(infos: list[zipfile.ZipInfo]) -> Problem | None:
    if len(infos) > MAX_ENTRIES:
        return Problem("too-many-parts", f"文件包含 {len(infos)} 个部件，超过上限 {MAX_ENTRIES}")
    seen: dict[str, str] = {}
    for i in infos:
        if not i.is_dir() and not _normal_name(i.filename):
            return Problem(
                "bad-part-name",
                f"压缩包中的部件名 {i.filename[:80]!r} 不合规范（含空的、“.”或“..”的路径段；文件被篡改或损坏）",
            )
        key = part_key(i.filename)
        if key in seen:
            return Problem(
                "duplicate-parts",
                f"压缩包中有重复部件：{seen[key]} 与 {i.filename}（部件名不区分大小写；文件被篡改或损坏）",
            )
        seen[key] = i.filename
    total = sum(i.file_size for i in infos)
    if total > MAX_UNCOMPRESSED:
        return Problem("zip-bomb", f"解压后大小 {total // 1024 // 1024} MB 超过上限，疑似压缩炸弹")
    for i in infos:
        if i.file_size > RATIO_MIN_SIZE and i.file_size > MAX_RATIO * max(1, i.compress_size):
            return Problem("zip-bomb", f"部件 {i.filename} 压缩比超过 {MAX_RATIO}:1，疑似压缩炸弹")
    if any(i.flag_bits & 0x1 for i in infos):
        return Problem("encrypted", "文件已加密，请去掉密码后重新保存")
    return None


def _check_layout(data: bytes, zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo]) -> Problem | None:
    """The entries, the central directory and its end record must fill the file exactly.

    Anything else — bytes before the first entry, an entry the directory does
    not list, a second directory — is a file that two readers may read
    differently, so it is refused.
    """
    layout = Problem(
        "zip-layout",
        "压缩包结构异常（含目录未列出的数据或第二个目录，不同软件会读出不同内容），文件被改动；请重新保存后发送",
    )
    pos = 0
    cd_size = 0
    zip64 = False
    for info in sorted(infos, key=lambda i: i.header_offset):
        if info.header_offset != pos:
            return layout
        header = data[pos : pos + _LOCAL_HEADER.size]
        if len(header) < _LOCAL_HEADER.size:
            return layout
        fields = _LOCAL_HEADER.unpack(header)
        if fields[0] != b"PK\x03\x04":
            return layout
        name_len, extra_len = fields[-2], fields[-1]
        pos += _LOCAL_HEADER.size + name_len + extra_len + info.compress_size
        if info.flag_bits & 0x8:  # a data descriptor follows the data
            big = info.compress_size >= 0xFFFFFFFF or info.file_size >= 0xFFFFFFFF
            pos += (4 if data[pos : pos + 4] == _DESCRIPTOR_SIG else 0) + (20 if big else 12)
        encoded = info.orig_filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437", errors="replace")
        cd_size += _CENTRAL_FIXED + len(encoded) + len(info.extra) + len(info.comment)
        zip64 = zip64 or info.header_offset >= 0xFFFFFFFF or info.file_size >= 0xFFFFFFFF
    zip64 = zip64 or len(infos) >= 0xFFFF
    if not zip64 and data[pos + cd_size : pos + cd_size + 4] == b"PK\x06\x06":
        zip64 = True  # some writers add the zip64 end record to small archives too
    if pos + cd_size + (_ZIP64_EOCD if zip64 else 0) + _EOCD + len(zf.comment) != len(data):
        return layout
    return None
