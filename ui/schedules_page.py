"""Schedules page: recurring imports of a URL or S3 export (a nightly CRM refresh), with the
same action and mapping controls as the import page. Lists each schedule with its next and
last run; enable or disable, run now, delete. User strings are shown as plain text."""

from __future__ import annotations

from typing import Any
from zoneinfo import available_timezones

import streamlit as st

from ui import session
from ui.api_client import ApiClient, ApiError
from ui.html_table import text_table
from ui.import_controls import ACTIONS, render_mapping_table, suggestion_for
from ui.job_text import when
from ui.mapping_table import attributes_of
from ui.markdown import plain

ZONES = sorted(available_timezones())
RECORD_TYPE = "customers"


def source_text(source: dict[str, Any]) -> str:
    if source.get("s3"):
        return f"s3://{source['s3']['bucket']}/{source['s3']['key']}"
    return str(source.get("url", ""))


def last_run_text(schedule: dict[str, Any]) -> str:
    run = schedule.get("lastRun")
    if not run:
        return "never"
    outcome = f"skipped ({run['skipped']})" if run.get("skipped") else str(run.get("status"))
    return f"{when(run['at'])}: {outcome}"


def render_list(api: ApiClient, schedules: list[dict[str, Any]]) -> None:
    text_table(
        [
            {
                "Name": s["name"],
                "Source": source_text(s["source"]),
                "When": f"{s['cron']} ({s['timezone']})",
                "Enabled": "yes" if s["enabled"] else "no",
                "Next run": when(s["nextRunAt"]) or "—",
                "Last run": last_run_text(s),
            }
            for s in schedules
        ],
        "schedules",
    )
    for schedule in schedules:
        render_actions(api, schedule)


def render_actions(api: ApiClient, schedule: dict[str, Any]) -> None:
    schedule_id = schedule["id"]
    with st.container(border=True):
        st.text(f"{schedule['name']} · {source_text(schedule['source'])}")
        toggle, run, remove, status = st.columns([1, 1, 1, 2])
        label = "Disable" if schedule["enabled"] else "Enable"
        try:
            if toggle.button(label, key=f"toggle:{schedule_id}"):
                api.update_schedule(schedule_id, {"enabled": not schedule["enabled"]})
                st.rerun()
            if run.button("Run now", key=f"run:{schedule_id}", icon=":material/play_arrow:"):
                job = api.run_schedule(schedule_id)
                st.session_state[session.FOCUS_JOB_KEY] = job["id"]
                session.flash("The schedule's import started; its progress is below.")
                st.switch_page("status_page.py")
            if remove.button("Delete", key=f"delete:{schedule_id}", icon=":material/delete:"):
                api.delete_schedule(schedule_id)
                st.rerun()
        except ApiError as error:
            st.error(plain(error), icon=":material/error:")
        run_info = schedule.get("lastRun") or {}
        if run_info.get("importId"):
            status.page_link(
                "status_page.py",
                label="Last run's import",
                query_params={"import": run_info["importId"]},
            )


def render_create(api: ApiClient) -> None:
    st.subheader("New schedule")
    name = st.text_input("Name", placeholder="CRM nightly refresh")
    kind = st.radio("Source", ["URL", "S3 object"], horizontal=True)
    source: dict[str, Any]
    if kind == "URL":
        source = {
            "url": st.text_input("URL of the export", placeholder="https://…/customers.csv").strip()
        }
    else:
        bucket, key = st.columns(2)
        source = {
            "s3": {
                "bucket": bucket.text_input("Bucket").strip(),
                "key": key.text_input("Key", placeholder="exports/customers.csv").strip(),
            }
        }
    when_cron, zone = st.columns(2)
    cron = when_cron.text_input("When (cron: minute hour day month weekday)", value="0 2 * * *")
    timezone = zone.selectbox("Time zone", ZONES, index=ZONES.index("UTC"))
    identifiers = {i["key"]: i["label"] for i in api.channel_identifiers(RECORD_TYPE)}
    identifier = st.selectbox(
        "Search for existing customers by", list(identifiers), format_func=identifiers.get
    )
    action = st.radio(
        "When a duplicate is found",
        list(ACTIONS),
        format_func=lambda key: ACTIONS[key][0],
        captions=[text for _, text in ACTIONS.values()],
    )
    enabled = st.checkbox("Enabled", value=True)
    skip_unchanged = st.checkbox("Skip a run when the export has not changed", value=True)
    mapping: dict[str, str | None] | None = None
    sample = st.file_uploader(
        "A sample of the export, to choose the column mapping (optional: without it each run "
        "uses the suggested mapping)",
        type=["csv", "xlsx"],
        key="schedule_sample",
    )
    if sample is not None:
        suggestion, problem = suggestion_for(api, RECORD_TYPE, sample, None)
        if suggestion is None:
            st.error(f"This sample cannot be read: {plain(problem)}", icon=":material/error:")
        else:
            attributes = attributes_of(api.schema(RECORD_TYPE))
            mapping = render_mapping_table(suggestion, attributes, f"schedule:{sample.file_id}")
    if st.button("Create schedule", type="primary", icon=":material/schedule:"):
        body = {
            "name": name.strip(),
            "source": source,
            "config": {
                "recordType": RECORD_TYPE,
                "deduplicationKeys": [identifier],
                "action": action,
                **({"mapping": mapping} if mapping is not None else {}),
            },
            "cron": cron.strip(),
            "timezone": timezone,
            "enabled": enabled,
            "skipUnchanged": skip_unchanged,
        }
        try:
            api.create_schedule(body)
        except ApiError as error:
            st.error(f"The schedule was not created: {plain(error)}", icon=":material/error:")
            return
        session.flash("Schedule created.")
        st.rerun()


def render() -> None:
    api = session.client()
    st.title("Schedules")
    session.show_flash()
    st.caption("Imports that run by themselves at set times, from a URL or an S3 object.")
    schedules = api.list_schedules()
    if schedules:
        render_list(api, schedules)
    else:
        st.info("No schedules yet.")
    st.divider()
    render_create(api)


try:
    render()
except ApiError as error:
    st.error(plain(error), icon=":material/error:")
