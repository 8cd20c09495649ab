"""The demo knowledge base of the local runtime: finance policies, seeded at ``appliance up``.

So that a finance user can ask a cited question straight after start-up, ``appliance up``
creates "财务制度 / Finance policies" for ``/dept/finance`` and uploads a few tiny documents
written here, as the demo kb-editor li.na, through the gateway: the same path, checks and
audit events as a real upload. Running it again changes nothing: the knowledge base is
found by name, and the service recognises identical documents as duplicates.
"""

from __future__ import annotations

import httpx

from appliance.auth.password_grant import password_grant
from appliance.runtime.demo_users import stored_passwords
from appliance.runtime.endpoints import DEV_CLIENT_ID, GATEWAY_URL, ISSUER
from appliance.runtime.paths import RuntimePaths

KB_NAME = "财务制度 / Finance policies"
KB_GROUP = "/dept/finance"
EDITOR = "li.na"
SAMPLE_QUESTION = "一线城市出差住宿每晚的报销上限是多少？"

DOCUMENTS: dict[str, str] = {
    "差旅报销规定.md": """# 差旅报销规定

## 住宿标准

员工在北京、上海、广州、深圳等一线城市出差，住宿费每晚报销上限为 650 元；其他城市每晚
上限为 450 元。超出部分由员工自行承担，特殊情况须经部门负责人书面批准。

## 报销时限

差旅费用须在出差结束后 15 个工作日内通过财务系统提交报销，逾期需财务总监审批。
""",
    "费用审批权限.md": """# 费用审批权限

## 审批层级

单笔 5,000 元以下的费用由部门负责人审批；5,000 元至 50,000 元由财务总监审批；
超过 50,000 元须经总经理审批。
""",
    "expense-policy.md": """# Expense policy (English summary)

## Meals

Meal allowance on business trips is 100 yuan per day; receipts are not required for it.

## Submission

Claims are submitted in the finance system within 15 working days after the trip ends.
""",
}


def _token(paths: RuntimePaths, client: httpx.Client) -> str:
    url, form = password_grant(ISSUER, DEV_CLIENT_ID, EDITOR, stored_passwords(paths)[EDITOR])
    response = client.post(url, data=form)
    response.raise_for_status()
    return str(response.json()["access_token"])


def _kb_id(client: httpx.Client) -> tuple[str, bool]:
    """The demo knowledge base's id, created if missing; and whether it was created."""
    listed = client.get("/api/kb")
    listed.raise_for_status()
    for kb in listed.json()["knowledge_bases"]:
        if kb["name"] == KB_NAME and kb["group"] == KB_GROUP:
            return str(kb["id"]), False
    created = client.post(
        "/api/kb",
        json={
            "name": KB_NAME,
            "group": KB_GROUP,
            "description": "Demo: travel, approval and expense rules of the finance department.",
        },
    )
    created.raise_for_status()
    return str(created.json()["id"]), True


def seed(paths: RuntimePaths, gateway_url: str = GATEWAY_URL) -> str:
    """Make sure the demo knowledge base and its documents exist; a one-line status."""
    with httpx.Client(base_url=gateway_url, timeout=600) as client:
        client.headers["Authorization"] = f"Bearer {_token(paths, client)}"
        kb_id, created = _kb_id(client)
        files = [
            ("files", (name, text.encode("utf-8"), "text/markdown"))
            for name, text in DOCUMENTS.items()
        ]
        response = client.post(f"/api/kb/{kb_id}/documents", files=files)
        response.raise_for_status()
    results = response.json()["documents"]
    new = sum(1 for r in results if r["status"] == "ready" and not r["duplicate"])
    failed = [r["name"] for r in results if r["status"] != "ready"]
    state = "created" if created else "present"
    line = f"{KB_NAME} ({state}, {new} new of {len(results)} documents)"
    return line + (f"; failed: {', '.join(failed)}" if failed else "")
