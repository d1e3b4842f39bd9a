"""Text hygiene (issue 9, point 8): bidi overrides and control characters
are removed from file names, unit names and report text on the way in; the
webhook's Markdown escapes user text; common passwords are refused."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from supervise.db import session, unit_of_work
from supervise.models import Evidence, Report, Unit
from supervise.policy import SYSTEM
from supervise.services.units import ensure_unit, find_unit
from supervise.services.users import check_password_strength, create_user

from supervise.errors import ValidationError

from .conftest import report_in_state
from .test_evidence import PDF, _upload

# Right-to-left override, the isolates, a bell, an escape, a NUL, DEL and C1 NEL.
HOSTILE = "\u202e\u2066\u2067\u2068\u2069\u202a\u202b\u202c\u202d\x07\x1b\x00\x7f\x85"


def _clean(text: str) -> bool:
    return not any(ch in text for ch in HOSTILE)


def test_a_file_name_loses_its_bidi_overrides_and_controls(cast):
    rid = report_in_state(cast, "lead", "draft", "2025Q2")
    # Shown raw, "说明\u202efdp.pdf" would read as "说明pdf.pdf" -- and worse with .exe.
    response = _upload(cast.lead, rid, PDF, "说明\u202e\u2066fdp\x07\x1b.pdf")
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["name"] == "说明fdp.pdf"
    stored = session().scalar(select(Evidence).where(Evidence.report_id == rid))
    assert stored.original_name == "说明fdp.pdf"


def test_report_text_loses_them_and_keeps_tabs_and_line_breaks(cast):
    rid = report_in_state(cast, "lead", "draft", "2025Q2")
    text = f"第一段{HOSTILE}进展\t表格列\r\n第二段\u202e反向"
    response = cast.lead.patch(f"/reports/{rid}", json={"text": text})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["text"] == "第一段进展\t表格列\n第二段反向"
    session().expire_all()
    assert session().get(Report, rid).text == "第一段进展\t表格列\n第二段反向"
    created = cast.lead.post("/reports", json={"task_id": cast.task.id, "period": "2025Q3", "text": f"新{HOSTILE}建"})
    assert created.status_code == 201 and created.get_json()["text"] == "新建"


def test_a_unit_name_loses_them(units):
    with unit_of_work():
        unit = ensure_unit(f"浙江省\u202e测试{HOSTILE}办公室", short_name="省\u2066测试办\x07", aliases=("测试\u202d办",))
        unit_id = unit.id
    unit = session().get(Unit, unit_id)
    assert unit.canonical_name == "浙江省测试办公室" and unit.short_name == "省测试办"
    assert _clean(unit.canonical_name + unit.short_name)
    # Found by its clean name, and by a name carrying the same hostile characters.
    assert find_unit("省测试办").id == unit_id and find_unit("测试办").id == unit_id
    assert find_unit("浙江省\u202e测试办公室").id == unit_id


def test_webhook_markdown_escapes_user_text(app):
    from supervise.notify.messages import markdown_for

    context = {
        "rule": "overdue", "item": "2025年第三季度进展情况", "unit": "省经信厅](http://evil.example/x)",
        "task_number": 1, "task_title": "[点此办理](http://evil.example/phish) ![img](http://evil.example/i.png) **急**",
        "plan": "浙政办发〔2024〕27号 <a href='http://evil.example'>x</a>", "period": "2025Q3",
        "due_on": "2025-10-14", "overdue_working_days": 1, "link": "/tasks/1",
    }
    app.config["BASE_URL"] = "https://dc.zj.gov.cn"
    with app.test_request_context():
        text = markdown_for(context)
    # The one link is the system's own; the user's text shows, inert.
    assert text.count("](") == 1 and "[进入督查督办系统办理](https://dc.zj.gov.cn/tasks/1)" in text
    assert "http://evil" not in text and "<a " not in text and "**" not in text
    assert "点此办理" in text and "evil.example" in text and "2025年10月14日" in text


@pytest.mark.parametrize("password", ["Password1", "P@ssw0rd", "Admin@123", "Qwerty123", "1qaz@WSX", "Abc@123456"])
def test_common_passwords_are_refused(units, password):
    with pytest.raises(ValidationError, match="常见弱口令"):
        check_password_strength(password, "someone")
    with pytest.raises(ValidationError, match="常见弱口令"):
        with unit_of_work():
            create_user("weak1", unit_name="省商务厅", roles=[], password=password, actor=SYSTEM)


def test_an_uncommon_password_still_passes(units):
    check_password_strength("Zhe#Jiang-Dcdb-2027", "someone")


def test_the_common_password_list_is_the_maintained_one():
    from supervise.domain.passwords import common_passwords

    words = common_passwords()
    # zxcvbn's list (30,000 frequency-ranked passwords) and our supplement.
    assert len(words) > 30_000 and {"password", "123456", "iloveyou", "admin@123", "woaini1314"} <= words
