"""POST /imports/mapping and the mandatory check of POST /imports, through the real API."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import csv_bytes, import_form

EXPORTS = Path(__file__).parents[1] / "unit" / "exports"


async def test_mapping_of_a_google_contacts_export(api, admin_headers) -> None:
    content = (EXPORTS / "google_contacts.csv").read_bytes()
    response = await api.post(
        "/imports/mapping",
        headers=admin_headers,
        files={"file": ("contacts.csv", content, "text/csv")},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["encoding"], body["delimiter"]) == ("utf-8-sig", ",")
    columns = {c["column"]: c for c in body["columns"]}
    assert set(columns["E-mail 1 - Value"]) == {"column", "field", "method", "confidence"}
    assert columns["E-mail 1 - Value"]["field"] == "email"
    assert columns["Phone 2 - Value"]["field"] == "phoneNumber"
    assert columns["First Name"] == {
        "column": "First Name",
        "field": "firstName",
        "method": "normalized",
        "confidence": 0.95,
    }
    assert columns["Middle Name"]["field"] is None
    assert columns["Phone 1 - Label"]["field"] is None
    assert body["missingRequired"] == []
    assert body["sampleRows"][0]["First Name"] == "Ada"


async def test_mapping_reports_missing_required_and_a_semicolon_file(api, admin_headers) -> None:
    content = "Nachname;E-Mail\nMüller;m@beispiel.example\n".encode("cp1252")
    response = await api.post(
        "/imports/mapping", headers=admin_headers, files={"file": ("k.csv", content, "text/csv")}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["encoding"], body["delimiter"]) == ("cp1252", ";")
    assert body["missingRequired"] == ["firstName"]
    assert body["sampleRows"] == [{"Nachname": "Müller", "E-Mail": "m@beispiel.example"}]


async def test_a_chosen_mapping_is_checked_by_the_import_rules(api, admin_headers) -> None:
    """What the UI shows under its mapping table comes from here: what the mapping lacks, the
    single-value attributes it maps twice, and the sample rows as it imports them."""
    content = csv_bytes(
        ["who", "mail", "work mail", "city", "town"],
        [
            ["Ann", "a@x.example| b@x.example", "c@x.example", "Oslo", "Bergen"],
            ["", "", "", "", ""],
        ],
    )
    chosen = {
        "mapping": {
            "who": None,
            "mail": "email",
            "work mail": "email",
            "city": "city",
            "town": "city",
        },
        "multiValueSeparator": "|",
    }
    response = await api.post(
        "/imports/mapping",
        headers=admin_headers,
        files={"file": ("chosen.csv", content, "text/csv")},
        data={"chosenMapping": json.dumps(chosen)},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["confidenceBar"] == 0.75
    assert body["chosenMapping"] == {
        "missingRequired": ["firstName"],
        "mappedTwice": {"city": ["city", "town"]},
        "previewRows": [
            {"email": ["a@x.example", "b@x.example", "c@x.example"], "city": ["Oslo", "Bergen"]}
        ],
        "proposedAttributes": {"who": {"key": "who", "type": "string"}},
    }

    without = await api.post(
        "/imports/mapping",
        headers=admin_headers,
        files={"file": ("chosen.csv", content, "text/csv")},
    )
    assert "chosenMapping" not in without.json()

    unknown = {"mapping": {"who": "nickname"}}
    refused = await api.post(
        "/imports/mapping",
        headers=admin_headers,
        files={"file": ("chosen.csv", content, "text/csv")},
        data={"chosenMapping": json.dumps(unknown)},
    )
    assert refused.status_code == 422
    assert "unknown attributes: nickname" in refused.json()["detail"]


async def test_unreadable_files_get_a_reason_not_a_500(api, admin_headers) -> None:
    for content, reason in [
        (b"", "empty"),
        (b"firstName,email\r\n", "no data rows"),
        (b"PK\x03\x04\x14\x00\x06\x00rest", "Excel workbook"),
    ]:
        response = await api.post(
            "/imports/mapping",
            headers=admin_headers,
            files={"file": ("x.csv", content, "text/csv")},
        )
        assert response.status_code in (400, 422), response.text
        assert reason in response.json()["detail"]


CONFIG = {"deduplicationKeys": ["email"], "action": "ignore"}
REMAPPED = csv_bytes(["Customer", "Email"], [["Ann", "ann@example.com"]])


async def test_a_remapped_file_passes_the_mandatory_check(api, admin_headers) -> None:
    config = {**CONFIG, "mapping": {"Customer": "firstName"}}
    response = await api.post("/imports", headers=admin_headers, **import_form(REMAPPED, config))
    assert response.status_code == 202, response.text


async def test_a_mapping_that_drops_first_name_is_rejected(api, admin_headers) -> None:
    content = csv_bytes(["Given Name", "Email"], [["Ann", "ann@example.com"]])
    config = {**CONFIG, "mapping": {"Given Name": None}}
    response = await api.post("/imports", headers=admin_headers, **import_form(content, config))
    assert response.status_code == 422
    assert response.json()["missingRequired"] == ["firstName"]
    assert (await api.get("/imports", headers=admin_headers)).json()["total"] == 0
    unmapped = await api.post("/imports", headers=admin_headers, **import_form(REMAPPED, CONFIG))
    assert unmapped.status_code == 422
    assert unmapped.json()["missingRequired"] == ["firstName"]
