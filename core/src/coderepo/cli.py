"""The ``coderepo`` command line: the only module that prints.

Errors are one line on stderr (``Error: ...``) and a non-zero exit: 2 for bad usage
or input, 1 for failures; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Optional, Sequence

import click

from ._version import __version__


def _dump(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def _error(message: str, code: int) -> None:
    one_line = " ".join(part.strip() for part in str(message).splitlines() if part.strip())
    click.echo(f"Error: {one_line}", err=True)
    sys.exit(code)


class CodeRepoGroup(click.Group):
    """Turns every error into one line on stderr with the right exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        from .errors import CodeRepoError

        debug = bool(ctx.params.get("debug"))
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except CodeRepoError as exc:
            if debug:
                raise
            _error(str(exc), exc.exit_code)
        except NotImplementedError as exc:
            if debug:
                raise
            _error(str(exc) or "not implemented", 1)
        except KeyboardInterrupt:
            _error("interrupted", 130)
        except Exception as exc:
            if debug:
                raise
            _error(f"unexpected {type(exc).__name__}: {exc} (run with --debug for details)", 1)

    def main(self, args: Optional[Sequence[str]] = None, **kwargs: Any) -> Any:  # type: ignore[override]
        kwargs["standalone_mode"] = False
        try:
            return super().main(args, **kwargs)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.exceptions.Abort:
            _error("aborted", 1)
        except click.ClickException as exc:
            hint = ""
            if isinstance(exc, click.UsageError) and exc.ctx is not None:
                hint = f" (see '{exc.ctx.command_path} --help')"
            _error(exc.format_message() + hint, exc.exit_code)


@click.group(cls=CodeRepoGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="coderepo", message="%(prog)s %(version)s")
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
def cli(debug: bool) -> None:
    """Record exactly which code a run used, and fetch exactly that code anywhere."""
    import logging

    if debug:
        logging.basicConfig(level=logging.DEBUG, format="%(name)s: %(message)s")
    else:  # library warnings (urllib3 retries, ...) must not break the one-line errors
        logging.getLogger().addHandler(logging.NullHandler())


# -- options given as --KEY=VALUE ------------------------------------------------------

_FREE_OPTIONS = {"ignore_unknown_options": True, "allow_extra_args": True}


def _split_name(args: Sequence[str], what: str) -> tuple[str, dict[str, str]]:
    """Find NAME among the free arguments and parse the rest as --KEY=VALUE options."""
    from .errors import UsageError
    from .options import parse_option_args

    names: list[str] = []
    rest: list[str] = []
    items = list(args)
    i = 0
    while i < len(items):
        token = items[i]
        if token.startswith("--") and "=" not in token and i + 1 < len(items) and not items[i + 1].startswith("--"):
            rest += items[i : i + 2]
            i += 2
            continue
        (rest if token.startswith("--") else names).append(token)
        i += 1
    if len(names) != 1:
        found = f"got {', '.join(map(repr, names))}" if names else "none given"
        raise UsageError(f"{what} takes exactly one repository NAME ({found})")
    return names[0], parse_option_args(rest)


def _entry_view(entry: Any, with_defaults: bool = False) -> dict[str, Any]:
    from .secrets import describe_ref

    options = dict(entry.options)
    installed = True
    if with_defaults:
        from .options import options_of
        from .plugins import get_plugin_manager

        try:
            rtype = get_plugin_manager().get_type(entry.type)
        except Exception:
            installed = False
        else:
            for info in options_of(rtype.config_class):
                if not info.secret and info.name not in options and not hasattr(rtype.config_class, "to_options"):
                    options[info.name] = info.default
    view = {
        "name": entry.name,
        "id": entry.id,
        "type": entry.type,
        "options": options,
        "secrets": {k: describe_ref(v) for k, v in entry.secrets.items()},
    }
    if with_defaults:
        view["type_installed"] = installed
    return view


def _print_entry(view: dict[str, Any]) -> None:
    click.echo(f"name:    {view['name']}")
    click.echo(f"type:    {view['type']}" + ("" if view.get("type_installed", True) else "  (type not installed)"))
    click.echo(f"id:      {view['id']}")
    for key, value in view["options"].items():
        click.echo(f"{key}: {'' if value is None else value}")
    for key, value in view["secrets"].items():
        click.echo(f"{key}: {value}")


# -- commands --------------------------------------------------------------------------


@cli.command(context_settings=_FREE_OPTIONS)
@click.option("--type", "-t", "type_name", required=True, help="Repository type (see 'coderepo plugins').")
@click.option("--source", help="MODULE.CLASS of a BaseCodeRepository subclass (type custom).")
@click.option("--json", "as_json", is_flag=True, help="Print the registered repository as JSON.")
@click.pass_context
def register(ctx: click.Context, type_name: str, source: Optional[str], as_json: bool) -> None:
    """Register a repository: coderepo register NAME --type TYPE [--KEY=VALUE ...].

    The options of each type are listed by 'coderepo plugins'.
    """
    from . import repositories
    from .registry import Registry

    name, options = _split_name(ctx.args, "register")
    if source is not None:
        options["source"] = source
    registry = Registry()
    repository = repositories.register(name, type_name, options, registry)
    if as_json:
        _dump(_entry_view(registry.get(name)))
    else:
        click.echo(f"Registered {repository.name} ({repository.type}, id {repository.id}).")


@cli.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_(as_json: bool) -> None:
    """List registered repositories."""
    from .registry import Registry

    views = [_entry_view(e) for e in Registry().entries()]
    if as_json:
        _dump(views)
        return
    if not views:
        click.echo("No repositories registered; add one with: coderepo register NAME --type git --url URL")
        return
    width = max(len(v["name"]) for v in views)
    twidth = max(len(v["type"]) for v in views)
    for v in views:
        summary = " ".join(f"{k}={val}" for k, val in v["options"].items())
        summary += "".join(f" {k}=****" for k in v["secrets"])
        click.echo(f"{v['name']:<{width}}  {v['type']:<{twidth}}  {summary}")


@cli.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def describe(name: str, as_json: bool) -> None:
    """Show one registered repository (secrets as ****)."""
    from .registry import Registry

    view = _entry_view(Registry().get(name), with_defaults=True)
    if as_json:
        _dump(view)
    else:
        _print_entry(view)


@cli.command(context_settings=_FREE_OPTIONS)
@click.option("--json", "as_json", is_flag=True, help="Print the updated repository as JSON.")
@click.pass_context
def update(ctx: click.Context, as_json: bool) -> None:
    """Change options: coderepo update NAME [--KEY=VALUE ...]."""
    from . import repositories
    from .registry import Registry

    name, options = _split_name(ctx.args, "update")
    registry = Registry()
    repositories.update(name, options, registry)
    if as_json:
        _dump(_entry_view(registry.get(name)))
    else:
        click.echo(f"Updated {name}.")


@cli.command()
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def delete(name: str, yes: bool) -> None:
    """Delete a registered repository and its stored secrets."""
    from . import repositories
    from .errors import UsageError
    from .registry import Registry

    registry = Registry()
    registry.get(name)  # a clear error for unknown names before asking anything
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError(f"refusing to delete {name!r} without confirmation: add --yes")
        click.confirm(f"Delete repository {name!r}?", abort=True)
    repositories.delete(name, registry)
    click.echo(f"Deleted {name}.")


@cli.command()
@click.argument("name")
def login(name: str) -> None:
    """Check that the host accepts the repository's credentials."""
    from . import repositories

    repository = repositories.login(name)
    click.echo(f"Logged in: {repository.name} ({repository.type}) is reachable with its credentials.")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def plugins(as_json: bool) -> None:
    """List installed plugins, their types, hooks and load status."""
    from .plugins import get_plugin_manager

    from .errors import DuplicateTypeError
    from .options import options_of, valid_options_text

    pm = get_plugin_manager()
    infos = pm.plugin_infos()
    try:
        types = pm.repository_types()
    except DuplicateTypeError:
        types = {}
    if as_json:
        data = [i.to_dict() for i in infos]
        for item in data:
            item["options"] = {
                t: [o.name for o in options_of(types[t].config_class)] for t in item["types"] if t in types
            }
        _dump(data)
        return
    for info in infos:
        dist = f"{info.distribution or '?'} {info.version or ''}".strip()
        click.echo(f"{info.name}  [{info.status}]  {dist}  ({info.module})")
        for name in info.types:
            rtype = types.get(name)
            click.echo(f"    type {name}: {rtype.description if rtype else ''}".rstrip())
            if rtype is not None and not hasattr(rtype.config_class, "from_options"):
                click.echo(f"        options: {valid_options_text(rtype.config_class)}")
        if info.hooks:
            click.echo(f"    hooks: {', '.join(info.hooks)}")
        if info.error:
            click.echo(f"    error: {info.error}")


@cli.command()
@click.argument("path", default=".", type=click.Path(file_okay=True, dir_okay=True))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status(path: str, as_json: bool) -> None:
    """Is the checkout at PATH clean, pushed and registered (downloadable)?"""
    from .context import status as get_status

    report = get_status(path)
    data = report.to_dict()
    if as_json:
        _dump(data)
        return
    c = report.checkout
    where = f"branch {c.branch}" if c.branch else "detached HEAD"
    click.echo(f"checkout:   {c.root}" + (f" (subdirectory {c.subdirectory})" if c.subdirectory else ""))
    click.echo(f"commit:     {c.commit or '(none)'} on {where}")
    click.echo(f"repository: {data['repository'] or '(not registered)'}"
               + (f" via {data['remote']} {data['remote_url']}" if data["remote"] else ""))
    click.echo(f"dirty:      {'yes: ' + str(c.dirty_reason) if c.is_dirty else 'no'}")
    click.echo(f"pushed:     {'yes' if report.pushed else 'no'}")
    if report.downloadable:
        click.echo("downloadable: yes")
    else:
        click.echo("downloadable: no")
        for reason in report.reasons:
            click.echo(f"  - {reason}")


@cli.command()
@click.argument("path", default=".", type=click.Path(file_okay=True, dir_okay=True))
@click.option("--json", "as_json", is_flag=True, help="Print the reference as JSON (for --reference FILE).")
def reference(path: str, as_json: bool) -> None:
    """The {repository, commit, subdirectory, tree} reference of the code at PATH."""
    from .context import status as get_status

    report = get_status(path)
    ref = report.reference()
    if report.has_local_changes:
        click.echo(
            f"warning: commit {ref.commit[:12]} is not pushed to {report.context.remote if report.context else 'any remote'}; "
            "push it before a download needs it",
            err=True,
        )
    if as_json:
        click.echo(ref.to_json())
    else:
        sub = f":{ref.subdirectory}" if ref.subdirectory else ""
        click.echo(f"{ref.repository}@{ref.commit}{sub} (tree {ref.tree})")


@cli.command()
@click.argument("args", nargs=-1, metavar="[NAME] DEST")
@click.option("--commit", help="Commit to download (full 40-character id), with NAME.")
@click.option("--subdirectory", default="", help="Only this directory of the commit, with NAME.")
@click.option("--reference", "reference_file", type=click.File("r"), help="A reference from 'coderepo reference --json' ('-' for stdin).")
@click.option("--force", is_flag=True, help="Replace DEST if it exists and is not empty.")
@click.option("--no-cache", is_flag=True, help="Neither read nor fill the local tree cache.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def download(
    args: tuple[str, ...], commit: Optional[str], subdirectory: str, reference_file: Any,
    force: bool, no_cache: bool, as_json: bool,
) -> None:
    """Download exactly one commit's files into DEST, verified by tree id."""
    from .downloader import download as run_download, download_reference
    from .progress import Progress
    from .errors import UsageError
    from .models import CodeReference

    options: dict[str, Any] = {"replace": force, "use_cache": False if no_cache else None}
    progress = Progress("downloading")
    options["progress"] = progress
    try:
        if reference_file is not None:
            if len(args) != 1 or commit or subdirectory:
                raise UsageError("with --reference give only DEST (no NAME, --commit or --subdirectory)")
            ref = CodeReference.from_json(reference_file.read())
            result = download_reference(ref, args[0], **options)
            name = ref.repository
        else:
            if len(args) != 2 or not commit:
                raise UsageError("give NAME --commit SHA DEST, or --reference FILE DEST")
            from .repositories import get_repository

            name = args[0]
            result = run_download(get_repository(name), commit, args[1], subdirectory, **options)
    finally:
        progress.close()
    data = {
        "repository": name,
        "commit": result.commit,
        "subdirectory": result.subdirectory,
        "tree": result.tree,
        "directory": result.directory,
        "verified": result.verified,
        "from_cache": result.from_cache,
        "submodules": result.submodules,
    }
    if as_json:
        _dump(data)
        return
    where = f"{name}@{result.commit[:12]}" + (f":{result.subdirectory}" if result.subdirectory else "")
    how = "from the cache" if result.from_cache else "downloaded"
    check = f"tree {result.tree} verified" if result.verified else "NOT verified: the type cannot tell the expected tree"
    click.echo(f"{where} {how} into {result.directory} ({check})")
    for path, sha in sorted(result.submodules.items()):
        click.echo(f"note: submodule {path} (commit {sha[:12]}) is not included; its directory is empty", err=True)


def main() -> None:
    cli.main(prog_name="coderepo")


if __name__ == "__main__":  # pragma: no cover
    main()
