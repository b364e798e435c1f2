"""Command-line commands: flask --app wsgi <command>."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import sqlalchemy as sa
from flask import Flask, current_app

from . import qrcodes
from .definitions import DefinitionError, load_all
from .extensions import db
from .models import Account, Region, Role, Site


def register_commands(app: Flask) -> None:
    app.cli.add_command(surveys)
    app.cli.add_command(sites)
    app.cli.add_command(qr)
    app.cli.add_command(demo)
    app.cli.add_command(users)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)


@click.group(help="Questionnaire definitions in surveys/.")
def surveys():
    pass


def _load_or_exit():
    try:
        return load_all(current_app.config["SURVEYS_DIR"])
    except DefinitionError as e:
        for problem in e.problems:
            click.echo(str(problem), err=True)
        click.echo(f"{len(e.problems)} problem(s) found; nothing was changed.", err=True)
        sys.exit(1)


@surveys.command("check", help="Check every definition file and scoring scheme (surveys/schemes/); "
                                "list every problem with file and item.")
def surveys_check():
    from pathlib import Path

    from .definitions.schemes import load_schemes
    found = _load_or_exit()
    for survey_id, definition in sorted(found.items()):
        click.echo(f"ok  {survey_id}: {len(definition.items)} items  ({definition.source})")
    try:
        schemes = load_schemes(Path(current_app.config["SURVEYS_DIR"]) / "schemes", surveys=found)
    except DefinitionError as e:
        for problem in e.problems:
            click.echo(str(problem), err=True)
        click.echo(f"{len(e.problems)} problem(s) found in the scoring schemes.", err=True)
        sys.exit(1)
    for scheme_id, scheme in sorted(schemes.items()):
        todo = f", {len(scheme.placeholders)} part(s) to fill in" if scheme.placeholders else ""
        click.echo(f"ok  scheme {scheme_id}: {len(scheme.leaves)} scored indicators{todo}")


@surveys.command("sync", help="Store the definitions as survey versions (answered versions never change).")
def surveys_sync():
    from .staff.operations import sync_survey
    found = _load_or_exit()
    for survey_id, definition in sorted(found.items()):
        result = sync_survey(definition)
        click.echo(f"{result.action:12} {survey_id} (version {result.version.number})")
    db.session.commit()


@surveys.command("import-xlsform", help="Turn an XLSForm workbook (ODK/KoboToolbox) into surveys/<id>.yaml; "
                                          "list everything that cannot be carried over, and then write nothing.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--id", "survey_id", help="the survey id (default: form_id from the settings sheet, lowercased)")
@click.option("--force", is_flag=True, help="overwrite surveys/<id>.yaml if it exists")
def surveys_import_xlsform(file: str, survey_id: str | None, force: bool):
    from .definitions.xlsform import XLSFormRefused, import_xlsform
    try:
        result = import_xlsform(file, current_app.config["SURVEYS_DIR"], survey_id=survey_id, force=force)
    except XLSFormRefused as e:
        for refusal in e.refusals:
            click.echo(str(refusal), err=True)
        for warning in e.warnings:
            click.echo(f"warning: {warning}", err=True)
        click.echo(f"{len(e.refusals)} problem(s) found; nothing was written.", err=True)
        sys.exit(1)
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    definition = result.definition
    click.echo(f"wrote {result.path}: {len(definition.items)} items in {len(definition.sections)} sections"
               f"{f', {len(result.warnings)} warning(s)' if result.warnings else ''}")


@click.command(help="List sites: token, community code, community name, URL.")
def sites():
    base = current_app.config["BASE_URL"]
    rows = db.session.execute(
        sa.select(Site.token, Region.code, Region.name, Site.name)
        .join(Region, Region.id == Site.community_id).order_by(Region.code, Site.id)).all()
    for token, code, community, site_name in rows:
        click.echo(f"{token}\t{code}\t{community}\t{qrcodes.site_url(base, token)}\t{site_name}")


@click.command(help="Write a site's QR code to FILE (.png or .svg).")
@click.argument("token")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="FILE.png or FILE.svg")
def qr(token: str, output: str):
    site = db.session.scalar(sa.select(Site).where(Site.token == token))
    if site is None:
        raise click.ClickException(f"no site with token {token}")
    url = qrcodes.site_url(current_app.config["BASE_URL"], token)
    qrcodes.write(url, output)
    click.echo(f"{output}: {url}")


@click.command(help="Load demo data: a district shaped on the Kunming annex, campaigns, responses.")
@click.option("--responses", "n_responses", default=600, show_default=True, type=click.IntRange(0, 1_000_000),
              help="synthetic responses to add across the demo campaigns")
@click.option("--seed", default=2026, show_default=True, help="random seed (same seed, same data)")
def demo(n_responses: int, seed: int):
    from .demo import DemoAlreadyLoaded, load_demo
    try:
        summary = load_demo(n_responses=n_responses, seed=seed, surveys_dir=current_app.config["SURVEYS_DIR"])
    except DemoAlreadyLoaded as e:
        click.echo(f"demo already loaded ({e}); nothing added")
        return
    click.echo(summary)


@click.group(help="Staff accounts.")
def users():
    pass


@users.command("create", help="Create a staff account (the first one: --role admin for a district).")
@click.option("--username", required=True)
@click.option("--name", "display_name", help="the person's name as colleagues know it (default: the username)")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]),
              help="admin (a district), street, community, evaluator (reads only)")
@click.option("--region", "region_code", required=True, help="code of the district, street or community")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="at least 10 characters (asked for when not given)")
def users_create(username: str, display_name: str | None, role: str, region_code: str, password: str):
    from .staff.operations import create_account
    region = db.session.scalar(sa.select(Region).where(Region.code == region_code))
    if region is None:
        raise click.ClickException(f"no region with code {region_code}")
    if db.session.scalar(sa.select(Account.id).where(Account.username == username)):
        raise click.ClickException(f"the username {username} is taken")
    try:
        account = create_account(username, display_name or username, password, Role(role), region)
    except ValueError as e:
        raise click.ClickException(str(e)) from e
    db.session.commit()
    click.echo(f"created {account.username}: {account.role.label}, {region.name} ({region.code})")


@users.command("list", help="List staff accounts.")
def users_list():
    for account in db.session.scalars(sa.select(Account).order_by(Account.username)):
        state = "" if account.active else "  (disabled)"
        click.echo(f"{account.username}\t{account.role.value}\t{account.region.code}\t{account.display_name}{state}")


@click.command("backup", help="Copy the database, while the app runs, into FILE (SQLite: the online-backup API; "
                              "PostgreSQL: pg_dump's custom format).")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def backup_command(file: Path):
    from .backup import BackupError, backup
    try:
        backup(db.engine.url, file)
    except BackupError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"backed up to {file} ({file.stat().st_size:,} bytes)")


@click.command("restore", help="Replace the database with the backup in FILE. Stop the app servers first; "
                               "then `flask db upgrade` if the backup is older than the code.")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
def restore_command(file: Path, yes: bool):
    from .backup import BackupError, restore
    if not yes:
        click.confirm(f"Replace everything in the database with {file}?", abort=True)
    db.session.remove()
    db.engine.dispose()  # no connection of ours holds the tables while they are replaced
    try:
        restore(db.engine.url, file)
    except BackupError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"restored from {file}")
