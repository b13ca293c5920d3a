"""The notes of a Standard MIDI File as the paper's music code read them, and its windows of notes.

Kao & Lee read MAESTRO's MIDI files with ``pretty_midi`` and cut the notes of the first instrument into
windows. This module reads the file itself (no ``pretty_midi`` needed) and lists the notes the same way:

- the tracks are read one after another, each one's events in the file's order (delta times summed to ticks);
- a note starts at a note-on with a velocity above 0 and ends at the next note-off (or note-on with velocity
  0) of its channel and pitch; that event ends every open note of the channel and pitch except those that
  started at the same tick, in the order they started;
- a note belongs to the instrument (program, channel, track) of its channel's current program when it ends
  (program 0 until a program change, counted per track); the instruments are listed in the order their first
  note ended, and each instrument's notes in the order they ended.

:func:`paper_windows` then cuts the first instrument's notes as the paper's ``Music/preprocess.py`` does:
consecutive chunks of ``window`` notes while ``(i + 1) * window < len(notes)`` (so the notes after the last
full chunk are dropped, and a last chunk that ends exactly at the last note too), each chunk's notes sorted by
their start (a stable sort), read as their pitches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Note:
    start: int  # ticks
    end: int
    pitch: int
    velocity: int


@dataclass
class Instrument:
    program: int
    channel: int
    track: int
    notes: list[Note] = field(default_factory=list)


def _variable_length(data: bytes, position: int) -> tuple[int, int]:
    value = 0
    for _ in range(4):
        if position >= len(data):
            raise ValueError("the file ends inside a variable-length number")
        byte = data[position]
        position += 1
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            return value, position
    raise ValueError("a variable-length number is longer than four bytes")


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks, position = [], 0
    while position + 8 <= len(data):
        kind, length = data[position : position + 4], int.from_bytes(data[position + 4 : position + 8], "big")
        chunks.append((kind, data[position + 8 : position + 8 + length]))
        position += 8 + length
    return chunks


def _read_track(track: bytes, number: int, instruments: dict[tuple[int, int, int], Instrument]) -> None:
    programs = [0] * 16
    open_notes: dict[tuple[int, int], list[tuple[int, int]]] = {}
    position, tick, running = 0, 0, None
    while position < len(track):
        delta, position = _variable_length(track, position)
        tick += delta
        if position >= len(track):
            raise ValueError("a track ends after a delta time")
        status = track[position]
        if status & 0x80:
            position += 1
        elif running is None:
            raise ValueError("a data byte comes before any status byte")
        else:
            status = running
        if status == 0xFF:  # meta event
            kind = track[position]
            length, position = _variable_length(track, position + 1)
            position += length
            if kind == 0x2F:  # end of track
                return
            continue
        if status in (0xF0, 0xF7):  # system exclusive
            length, position = _variable_length(track, position)
            position += length
            running = None
            continue
        running = status
        kind, channel = status & 0xF0, status & 0x0F
        size = 1 if kind in (0xC0, 0xD0) else 2
        values = track[position : position + size]
        if len(values) < size:
            raise ValueError("a track ends inside a message")
        position += size
        if kind == 0xC0:
            programs[channel] = values[0]
        elif kind == 0x90 and values[1] > 0:
            open_notes.setdefault((channel, values[0]), []).append((tick, values[1]))
        elif kind in (0x80, 0x90) and (channel, values[0]) in open_notes:
            key = (channel, values[0])
            closing = [(start, velocity) for start, velocity in open_notes[key] if start != tick]
            keeping = [(start, velocity) for start, velocity in open_notes[key] if start == tick]
            identity = (programs[channel], channel, number)
            for start, velocity in closing:
                instrument = instruments.setdefault(identity, Instrument(*identity))
                instrument.notes.append(Note(start, tick, values[0], velocity))
            if closing and keeping:
                open_notes[key] = keeping
            else:
                del open_notes[key]


def read_instruments(path: str | Path) -> list[Instrument]:
    """The instruments of a MIDI file with their notes, listed as the module's docstring says.

    Raises:
        ValueError: naming the file, when it is not a Standard MIDI File or is cut short.
    """
    path = Path(path)
    data = path.read_bytes()
    if data[:4] != b"MThd":
        raise ValueError(f"{path.name} is not a Standard MIDI File (it does not start with MThd).")
    instruments: dict[tuple[int, int, int], Instrument] = {}
    try:
        tracks = [chunk for kind, chunk in _chunks(data)[1:] if kind == b"MTrk"]
        for number, track in enumerate(tracks):
            _read_track(track, number, instruments)
    except (ValueError, IndexError) as error:
        raise ValueError(f"{path.name}: {error or 'the file is cut short'}.") from None
    return list(instruments.values())


def paper_windows(path: str | Path, window: int = 128) -> list[list[int]]:
    """The pitches of the first instrument's notes in the paper's windows (see the module's docstring); no
    window when the file has no note or fewer than ``window + 1`` notes."""
    if window < 1:
        raise ValueError(f"a window holds at least one note, got {window}.")
    instruments = read_instruments(path)
    if not instruments:
        return []
    notes = instruments[0].notes
    found, i = [], 0
    while (i + 1) * window < len(notes):
        chunk = sorted(notes[i * window : (i + 1) * window], key=lambda note: note.start)
        found.append([note.pitch for note in chunk])
        i += 1
    return found
