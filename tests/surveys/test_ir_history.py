"""IR editing (pages, blocks, navigation rules, variables), expression validation, history and revert."""

from __future__ import annotations

from tests.surveys.conftest import QUESTIONNAIRES, program_file


def _ir(survey: dict) -> dict:
    """The IR part of a FullSurvey, without timestamps that legitimately change."""

    def strip(obj):
        if isinstance(obj, dict):
            return {k: strip(v) for k, v in obj.items() if k not in ("updated_at",)}
        if isinstance(obj, list):
            return [strip(v) for v in obj]
        return obj

    return strip({"pages": survey["pages"], "variables": survey["variables"], "first_page_id": survey["first_page_id"]})


async def _get(client, tenant, survey_id):
    return (await client.get(f"/v1/surveys/{survey_id}", headers=tenant.headers)).json()


async def test_program_edit_revert_restores_identical_ir(client, tenant, worker):
    survey, _ = await program_file(client, tenant, "p.txt", (QUESTIONNAIRES / "patient-experience.txt").read_bytes())
    sid = survey["id"]
    programmed = _ir(survey)
    block = survey["pages"][1]["blocks"][0]
    config = {**block["config"], "content": "Which clinic did you go to?", "showIf": 'answers.Q4 == "2"'}
    edited = await client.put(f"/v1/blocks/{block['id']}", headers=tenant.headers, json={"config": config})
    assert edited.status_code == 200 and edited.json()["config"]["content"] == "Which clinic did you go to?"
    deleted = await client.delete(f"/v1/pages/{survey['pages'][3]['id']}", headers=tenant.headers)
    assert deleted.status_code == 204
    history = (await client.get(f"/v1/surveys/{sid}/history", headers=tenant.headers)).json()
    assert [c["type"] for c in history["data"]] == ["manual", "manual", "initial_programming"]
    delete_changeset, edit_changeset = history["data"][0], history["data"][1]
    detail = (await client.get(f"/v1/changesets/{edit_changeset['id']}", headers=tenant.headers)).json()
    assert detail["changes"][0]["operation"] == "update"
    assert detail["changes"][0]["before"]["config"]["content"] == "Which of our clinics did you visit?"
    assert detail["changes"][0]["after"]["config"]["content"] == "Which clinic did you go to?"
    for changeset in (delete_changeset, edit_changeset):
        reverted = await client.post(f"/v1/changesets/{changeset['id']}/revert", headers=tenant.headers)
        assert reverted.status_code == 200, reverted.text
        assert reverted.json()["type"] == "revert" and reverted.json()["status"] == "complete"
    assert _ir(await _get(client, tenant, sid)) == programmed
    # Reverting the programming itself empties the survey; reverting that revert brings it all back.
    initial = history["data"][2]
    undo = (await client.post(f"/v1/changesets/{initial['id']}/revert", headers=tenant.headers)).json()
    emptied = await _get(client, tenant, sid)
    assert emptied["pages"] == [] and emptied["first_page_id"] is None
    await client.post(f"/v1/changesets/{undo['id']}/revert", headers=tenant.headers)
    assert _ir(await _get(client, tenant, sid)) == programmed


async def test_history_cursor_pagination(client, tenant):
    survey = (await client.post("/v1/surveys", headers=tenant.headers, json={"name": "Paged"})).json()
    for i in range(7):
        response = await client.post(
            f"/v1/surveys/{survey['id']}/pages", headers=tenant.headers, json={"name": f"P{i}"}
        )
        assert response.status_code == 201
    seen, cursor = [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(f"/v1/surveys/{survey['id']}/history", headers=tenant.headers, params=params)).json()
        seen.extend(c["title"] for c in page["data"])
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == [f"Add page P{i}" for i in reversed(range(7))]
    bad = await client.get(f"/v1/surveys/{survey['id']}/history", headers=tenant.headers, params={"cursor": "%%%"})
    assert bad.status_code == 400


async def test_pages_blocks_rules_variables_crud(client, tenant, other_tenant):
    survey = (await client.post("/v1/surveys", headers=tenant.headers, json={"name": "Built by hand"})).json()
    sid = survey["id"]
    p1 = (await client.post(f"/v1/surveys/{sid}/pages", headers=tenant.headers, json={"name": "Screener"})).json()
    p2 = (await client.post(f"/v1/surveys/{sid}/pages", headers=tenant.headers, json={"name": "Main"})).json()
    dup = await client.post(f"/v1/surveys/{sid}/pages", headers=tenant.headers, json={"name": "Main"})
    assert dup.status_code == 422
    block = await client.post(
        f"/v1/pages/{p1['id']}/blocks",
        headers=tenant.headers,
        json={
            "config": {
                "type": "MultipleChoice",
                "label": "S1",
                "content": "Age?",
                "allowMultiple": False,
                "choices": [{"label": "Under 18", "value": "1"}, {"label": "18+", "value": "2"}],
            }
        },
    )
    assert block.status_code == 201, block.text
    assert (await client.get(f"/v1/pages/{p1['id']}/blocks", headers=tenant.headers)).json()[0]["id"] == block.json()[
        "id"
    ]
    bad_type = await client.post(
        f"/v1/pages/{p1['id']}/blocks", headers=tenant.headers, json={"config": {"type": "Nope"}}
    )
    assert bad_type.status_code == 422
    bad_show = await client.post(
        f"/v1/pages/{p1['id']}/blocks",
        headers=tenant.headers,
        json={"config": {"type": "Text", "showIf": "answers.S1 =="}},
    )
    assert bad_show.status_code == 422 and "invalid expression" in bad_show.json()["detail"][0]["msg"]
    rule = await client.post(
        f"/v1/pages/{p1['id']}/navigation-rules",
        headers=tenant.headers,
        json={"target_page_id": p2["id"], "condition": 'answers.S1 in ["2"] and not (answers.S1 == "1")'},
    )
    assert rule.status_code == 201, rule.text
    missing = await client.post(
        f"/v1/pages/{p1['id']}/navigation-rules", headers=tenant.headers, json={"target_page_id": "no-such-page"}
    )
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["body", "target_page_id"]
    bad_condition = await client.post(
        f"/v1/pages/{p1['id']}/navigation-rules",
        headers=tenant.headers,
        json={"target_page_id": p2["id"], "condition": "answers.S1 === 1"},
    )
    assert bad_condition.status_code == 422
    cleared = await client.put(
        f"/v1/navigation-rules/{rule.json()['id']}", headers=tenant.headers, json={"condition": None}
    )
    assert cleared.status_code == 200 and cleared.json()["condition"] is None
    kept = await client.put(f"/v1/navigation-rules/{rule.json()['id']}", headers=tenant.headers, json={"order": 3})
    assert kept.json()["order"] == 3 and kept.json()["target_page_id"] == p2["id"]
    variable = await client.post(
        f"/v1/surveys/{sid}/variables",
        headers=tenant.headers,
        json={"name": "isAdult", "expression": 'answers.S1 == "2"'},
    )
    assert variable.status_code == 201
    assert (
        await client.post(f"/v1/surveys/{sid}/variables", headers=tenant.headers, json={"name": "1bad"})
    ).status_code == 422
    updated = await client.put(
        f"/v1/variables/{variable.json()['id']}", headers=tenant.headers, json={"expression": None}
    )
    assert updated.json()["expression"] is None and updated.json()["name"] == "isAdult"
    full = await _get(client, tenant, sid)
    assert full["first_page_id"] == p1["id"]
    assert [p["name"] for p in full["pages"]] == ["Screener", "Main"]
    assert full["pages"][0]["navigation_rules"][0]["target_page_id"] == p2["id"]
    pages = (await client.get(f"/v1/surveys/{sid}/pages", headers=tenant.headers, params={"query": "scr"})).json()
    assert [p["name"] for p in pages] == ["Screener"]
    for path in (
        f"/v1/pages/{p1['id']}",
        f"/v1/blocks/{block.json()['id']}",
        f"/v1/navigation-rules/{rule.json()['id']}",
        f"/v1/variables/{variable.json()['id']}",
    ):
        assert (await client.get(path, headers=other_tenant.headers)).status_code == 404
        assert (await client.delete(path, headers=other_tenant.headers)).status_code == 404
    # Deleting the target page removes the rule pointing at it (recorded, so revertable).
    assert (await client.delete(f"/v1/pages/{p2['id']}", headers=tenant.headers)).status_code == 204
    assert (await client.get(f"/v1/navigation-rules/{rule.json()['id']}", headers=tenant.headers)).status_code == 404
    assert (await client.delete(f"/v1/variables/{variable.json()['id']}", headers=tenant.headers)).status_code == 204
    assert (await client.delete(f"/v1/blocks/{block.json()['id']}", headers=tenant.headers)).status_code == 204
