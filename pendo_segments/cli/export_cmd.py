"""``export salesforce``: an upsert-ready CSV of account scores and an exception report."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from pendo_segments.cli.common import load_data, note, status
from pendo_segments.cli.options import EXISTING, FILE, as_of, data_dir, defs_argument
from pendo_segments.cli.output import emit


@click.group()
def export() -> None:
    """Export account scores for other systems.

    \b
    Examples:
      pendo-segments export salesforce --data sample --out salesforce.csv
    """


@export.command("salesforce")
@defs_argument
@data_dir
@as_of
@click.option("--out", "out", type=FILE, required=True, help="Upsert CSV to write.")
@click.option(
    "--exceptions",
    "exceptions_out",
    type=FILE,
    default=None,
    help="Accounts that cannot be upserted, with the reason (default: OUT with .exceptions.csv).",
)
@click.option(
    "--crm-ids",
    "crm_ids",
    type=EXISTING,
    default=None,
    help="CSV of the record ids that exist in Salesforce (column Id or crm_id, "
    "else the first); accounts whose crm_id is not in it are exceptions.",
)
@click.option(
    "--key-header",
    default="crm_id",
    show_default=True,
    help="Header of the key column (e.g. Id for Data Loader's automatic mapping).",
)
def salesforce(
    defs: Path,
    data: str,
    lenient: bool,
    as_of: dt.date | None,
    out: Path,
    exceptions_out: Path | None,
    crm_ids: Path | None,
    key_header: str,
) -> None:
    """Write an upsert-ready Salesforce CSV keyed by crm_id, plus an exception report.

    Columns: crm_id, Pendo_Health_Score__c (0-100), Pendo_Last_Login__c
    (YYYY-MM-DD), Pendo_Feature_Adoption_Rate__c (% of key features used in
    30 days), Pendo_Session_Count_30d__c (visitor-days with activity in 30
    days), Pendo_NPS_Score__c (mean response 0-10 over 90 days),
    Pendo_At_Risk_Flag__c (true/false: the at_risk alert of DEFS/alerts.yaml,
    else score below 40). Accounts without a usable crm_id (blank, not a
    Salesforce id, shared by two accounts, or not in --crm-ids) go to the
    exception report (account_id,name,crm_id,problem) instead.

    \b
    Examples:
      pendo-segments export salesforce --data sample --out salesforce.csv
      pendo-segments export salesforce --data ./usage --out sf.csv --crm-ids sf_accounts.csv
    """
    from pendo_segments.export import export_for_salesforce, read_crm_ids

    known = read_crm_ids(crm_ids) if crm_ids else None
    ds = load_data(data, lenient, as_of, narrow=True)
    with status("Scoring accounts"):
        result = export_for_salesforce(
            ds, defs, as_of=as_of, known_ids=known, key_header=key_header
        )
    target = exceptions_out or out.with_name(f"{out.stem}.exceptions.csv")
    emit(result.exceptions_view(), "csv", target)
    emit(result, "csv", out)
    note(result.summary(out, target))
