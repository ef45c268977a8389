"""GET /imports finds any upload however old: a total, pages that never overlap, and filters
by status, creator, creation time and a part of the file name (literal, any case)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from store.documents import ImportJob, JobStatus

START = datetime(2026, 11, 1, tzinfo=UTC)


async def _seed(count: int) -> None:
    for i in range(count):
        await ImportJob(
            file_name=f"upload-{i:03d}.csv" if i != 7 else "Q3 (final).Customers.csv",
            file_id=None,
            action="ignore",
            deduplication_keys=["email"],
            mapping={},
            header=[],
            schema_attributes=[],
            created_by="ann" if i % 3 == 0 else "ben",
            status=JobStatus.FAILED if i % 10 == 0 else JobStatus.COMPLETED,
            created_at=START + timedelta(hours=i),
        ).insert()


async def _names(api, headers, **params) -> tuple[list[str], int]:
    response = await api.get("/imports", headers=headers, params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    return [job["fileName"] for job in body["items"]], body["total"]


async def test_pages_reach_the_oldest_upload_without_overlap(api, database, admin_headers) -> None:
    await _seed(60)
    seen: list[str] = []
    for offset in range(0, 60, 25):
        names, total = await _names(api, admin_headers, limit=25, offset=offset)
        assert total == 60
        seen += names
    assert len(seen) == len(set(seen)) == 60
    assert seen[0] == "upload-059.csv" and seen[-1] == "upload-000.csv"  # newest first


async def test_filters_combine(api, database, admin_headers) -> None:
    await _seed(60)
    assert (await _names(api, admin_headers, fileName="(FINAL).cust")) == (
        ["Q3 (final).Customers.csv"],
        1,
    )
    assert (await _names(api, admin_headers, fileName="upload-00"))[1] == 9  # 000..009 less 007
    assert (await _names(api, admin_headers, fileName=".*"))[1] == 0  # a name part, not a pattern
    assert (await _names(api, admin_headers, createdBy="ann"))[1] == 20
    assert (await _names(api, admin_headers, status="failed"))[1] == 6
    assert (await _names(api, admin_headers, status="failed", createdBy="ann"))[1] == 2  # 0, 30
    window = {
        "createdFrom": (START + timedelta(hours=10)).isoformat(),
        "createdTo": (START + timedelta(hours=20)).isoformat(),
    }
    names, total = await _names(api, admin_headers, **window)
    assert total == 10 and names[0] == "upload-019.csv" and names[-1] == "upload-010.csv"
    refused = await api.get("/imports", headers=admin_headers, params={"createdFrom": "yesterday"})
    assert refused.status_code == 400
    assert "createdFrom" in refused.json()["detail"]
