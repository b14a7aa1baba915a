"""Chat exports: one document per thread, its messages in order with author and time.

Two shapes are read. A Slack export (the folder or ``.zip`` Slack writes: ``channels.json``,
``users.json`` and one folder of daily ``YYYY-MM-DD.json`` files per channel), where a
thread is a message and the replies that name it in ``thread_ts``; and a generic JSONL of
``{"thread", "author", "ts", "text"}`` lines (``ts`` in epoch seconds or ISO 8601). Each
message is a paragraph ``author (2024-05-01 09:30): text``, so an answer given over three
messages packs into one chunk. Slack's ``<@U123>`` mentions become names and
``<url|label>`` links their label.
"""

from __future__ import annotations

import json
import re
import zipfile
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any, Iterable, Mapping

from rag_plugins.errors import InvalidDocumentError
from rag_plugins.ingest.markdown import escape_structure
from rag_plugins.ingest.text import decode, json_rows
from rag_plugins.types import Document

_MENTION = re.compile(r"<@([A-Z0-9]+)(?:\|([^>]+))?>")
_LINK = re.compile(r"<((?:https?|mailto):[^|>]+)(?:\|([^>]+))?>")
_CHANNEL = re.compile(r"<#[A-Z0-9]+\|([^>]+)>")
_DAY_FILE = re.compile(r"^\d{4}-\d{2}-\d{2}\.json$")


def is_slack_export(path: Path) -> bool:
    """A folder or zip holding ``channels.json`` and ``users.json`` at its top."""
    if path.is_dir():
        return (path / "channels.json").is_file() and (path / "users.json").is_file()
    if path.suffix.lower() == ".zip" and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
        return {"channels.json", "users.json"} <= names
    return False


def is_chat_jsonl(first_row: Mapping[str, Any]) -> bool:
    return {"thread", "author", "text"} <= set(first_row) and "id" not in first_row and "_id" not in first_row


def load_slack_export(path: Path) -> list[Document]:
    with _SlackFiles(path) as files:
        return _slack_threads(path, files)


def _slack_threads(path: Path, files: "_SlackFiles") -> list[Document]:
    users = {u.get("id"): (u.get("real_name") or (u.get("profile") or {}).get("real_name") or u.get("name") or u.get("id"))
             for u in files.json("users.json") if isinstance(u, dict)}
    documents = []
    for channel in files.json("channels.json"):
        name = channel.get("name") if isinstance(channel, dict) else None
        if not name:
            continue
        threads: dict[str, list[dict]] = {}
        for day in files.days(name):
            for message in files.json(day):
                if not isinstance(message, dict) or message.get("type", "message") != "message" or "ts" not in message:
                    continue
                if message.get("subtype") in ("channel_join", "channel_leave", "bot_add", "channel_purpose"):
                    continue
                threads.setdefault(str(message.get("thread_ts") or message["ts"]), []).append(message)
        for thread_ts, messages in sorted(threads.items(), key=lambda kv: float(kv[0])):
            messages.sort(key=lambda m: float(m["ts"]))
            turns = [(_author(m, users), float(m["ts"]), _slack_text(m.get("text", ""), users)) for m in messages]
            documents.append(_thread_document(f"{path.as_posix()}/{name}/{thread_ts}", turns,
                                              {"source": path.as_posix(), "channel": name, "thread": thread_ts}))
    if not documents:
        raise InvalidDocumentError(f"{path} is a Slack export with no messages; check it is the whole export")
    return documents


def load_chat_jsonl(path: Path) -> list[Document]:
    threads: dict[str, list[tuple[str, float, str]]] = {}
    for line_no, row in json_rows(path):
        missing = {"thread", "author", "text"} - set(row)
        if missing:
            raise InvalidDocumentError(f"{path}:{line_no}: a chat line needs 'thread', 'author', 'ts' and 'text'; "
                                       f"missing {sorted(missing)}")
        threads.setdefault(str(row["thread"]), []).append(
            (str(row["author"]), _timestamp(row.get("ts"), f"{path}:{line_no}"), str(row["text"])))
    return [_thread_document(f"{path.as_posix()}#{thread}", sorted(turns, key=lambda t: t[1]),
                             {"source": path.as_posix(), "thread": thread})
            for thread, turns in threads.items()]


def _thread_document(doc_id: str, turns: list[tuple[str, float, str]], metadata: dict[str, Any]) -> Document:
    paragraphs = [f"{author} ({_when(ts)}): {escape_structure(' '.join(text.split()))}" for author, ts, text in turns
                  if text.strip()]
    first, last = turns[0][1], turns[-1][1]
    authors = list(dict.fromkeys(author for author, _, _ in turns))
    metadata = {**metadata, "format": "chat", "authors": authors, "messages": len(turns),
                "started": _iso(first), "last_message": _iso(last)}
    if paragraphs:
        metadata["title"] = " ".join(turns[0][2].split())[:80]
    return Document(doc_id, "\n\n".join(paragraphs) + "\n", metadata)


def _author(message: Mapping[str, Any], users: Mapping[str, str]) -> str:
    profile = message.get("user_profile") or {}
    return str(users.get(message.get("user")) or profile.get("real_name") or message.get("username")
               or message.get("user") or "unknown")


def _slack_text(text: str, users: Mapping[str, str]) -> str:
    text = _MENTION.sub(lambda m: "@" + (m.group(2) or users.get(m.group(1)) or m.group(1)), text)
    text = _LINK.sub(lambda m: f"{m.group(2)} ({m.group(1)})" if m.group(2) else m.group(1), text)
    text = _CHANNEL.sub(lambda m: "#" + m.group(1), text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _timestamp(value: Any, where: str) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return (parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)).timestamp()
    raise InvalidDocumentError(f"{where}: 'ts' must be epoch seconds or an ISO 8601 time, got {value!r}")


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M")


class _SlackFiles:
    """The files of an export folder or zip, read the same way."""

    def __init__(self, path: Path):
        self.path = path
        self.archive = zipfile.ZipFile(path) if path.is_file() else None
        names: Iterable[str]
        if self.archive is not None:
            names = self.archive.namelist()
        else:
            names = (p.relative_to(path).as_posix() for p in path.rglob("*.json"))
        self.names = sorted(names)

    def __enter__(self) -> "_SlackFiles":
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.archive is not None:
            self.archive.close()

    def days(self, channel: str) -> list[str]:
        return [n for n in self.names if str(PurePosixPath(n).parent) == channel and _DAY_FILE.match(PurePosixPath(n).name)]

    def json(self, name: str) -> list:
        try:
            raw = self.archive.read(name) if self.archive is not None else (self.path / name).read_bytes()
        except (KeyError, OSError) as exc:
            raise InvalidDocumentError(f"{self.path}: cannot read {name} ({exc})") from None
        try:
            data = json.loads(decode(raw, f"{self.path}/{name}"))
        except ValueError as exc:
            raise InvalidDocumentError(f"{self.path}/{name}: invalid JSON ({exc})") from None
        if not isinstance(data, list):
            raise InvalidDocumentError(f"{self.path}/{name}: expected a JSON list, as Slack exports write")
        return data
