"""GET /api/v1/openapi.json: the OpenAPI 3.1 description of every route.

Written by hand, next to the routes, and kept honest by the tests: one walks
the URL map and fails on any route missing here, others validate the answers
of the real API against these schemas.
"""
from __future__ import annotations

from typing import Any

from flask import jsonify

from ...models import MilestoneState, PlanStatus, ReportKind, ReportState, TaskState, UnitRole
from ...services.report_view import REPORT_ACTIONS
from ...services.task_view import TASK_ACTIONS
from . import bp

JSON = "application/json"


def ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema or "enum" in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    kind = schema["type"]
    return {**schema, "type": [kind, "null"] if isinstance(kind, str) else [*kind, "null"]}


def array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


def obj(properties: dict[str, Any], *, optional: tuple[str, ...] = (), description: str | None = None) -> dict[str, Any]:
    """A closed object: every property listed, all required unless optional."""
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "required": [name for name in properties if name not in optional],
        "additionalProperties": False,
    }
    if description:
        schema["description"] = description
    return schema


STRING = {"type": "string"}
INTEGER = {"type": "integer"}
NUMBER = {"type": "number"}
BOOLEAN = {"type": "boolean"}
DATE = {"type": "string", "format": "date"}
DATETIME = {"type": "string", "format": "date-time"}
PERIOD_CODE = {"type": "string", "pattern": r"^\d{4}(Q[1-4]|H[12]|-(0[1-9]|1[0-2]))$", "examples": ["2025Q2", "2025-05", "2025H1"]}


def enum(values: list[str]) -> dict[str, Any]:
    return {"type": "string", "enum": values}


LIGHT = enum(["green", "yellow", "red"])
WORK_GROUPS = ["review", "decide", "returned", "due", "overdue"]

REPORT_SUMMARY: dict[str, Any] = {
    "id": INTEGER, "kind": enum([k.value for k in ReportKind]), "kind_label": STRING,
    "state": enum([s.value for s in ReportState]), "state_label": STRING, "task": ref("TaskRef"),
    "period": PERIOD_CODE, "unit": ref("UnitRef"),
    "version": {**INTEGER, "description": "乐观锁版本号:修改或审核时原样传回"},
    "submitted_at": nullable(DATETIME), "returned_at": nullable(DATETIME), "decided_at": nullable(DATETIME),
}
MILESTONE: dict[str, Any] = {
    "id": INTEGER, "task_id": INTEGER, "title": STRING, "due_on": DATE,
    "state": enum([s.value for s in MilestoneState]), "state_label": STRING, "note": STRING,
    "reject_reason": nullable(STRING), "completed_at": nullable(DATETIME), "evidence": array({"$ref": "#/components/schemas/Evidence"}),
}
TOKEN: dict[str, Any] = {
    "id": INTEGER, "label": STRING, "created_at": DATETIME,
    "expires_at": {**DATETIME, "description": "过期时间(签发后 SUPERVISE_TOKEN_DAYS 天,默认 90 天)"},
    "last_used_at": {"type": ["string", "null"], "format": "date-time"},
    "revoked_at": {"type": ["string", "null"], "format": "date-time"},
    "state": {**enum(["active", "expired", "revoked"]), "description": "有效 / 已过期 / 已吊销"},
}

SCHEMAS: dict[str, Any] = {
    "Error": obj(
        {
            "error": {**STRING, "description": "机器可读的错误代码,如 validation_error、forbidden、not_found、invalid_transition、conflict"},
            "message": {**STRING, "description": "给用户看的中文说明"},
            "fields": {"type": "object", "additionalProperties": STRING, "description": "出错的字段及其说明"},
        },
        optional=("fields",),
    ),
    "UnitRef": obj({"id": INTEGER, "name": STRING, "short_name": STRING}),
    "UserRef": obj({"id": INTEGER, "name": STRING, "unit": STRING}),
    "TaskRef": obj({"id": INTEGER, "number": INTEGER, "title": STRING}),
    "Target": obj(
        {
            "id": INTEGER, "text": STRING, "subject": STRING, "value": NUMBER, "measure": STRING,
            "comparator": STRING, "kind": enum(["cumulative", "annual", "ratio"]), "year": nullable(INTEGER),
            "baseline_year": nullable(INTEGER), "baseline_value": nullable(NUMBER), "threshold": nullable(STRING),
        }
    ),
    "TaskUnit": obj(
        {
            "unit_id": INTEGER, "name": STRING, "short_name": STRING, "role": enum([r.value for r in UnitRole]),
            "confirmed": BOOLEAN, "via": nullable(STRING),
        }
    ),
    "TaskSummary": obj(
        {
            "id": INTEGER, "plan_id": INTEGER, "number": INTEGER, "title": STRING,
            "state": enum([s.value for s in TaskState]), "state_label": STRING, "deadline": nullable(DATE),
            "units": array(ref("TaskUnit")), "targets": array(ref("Target")),
        }
    ),
    "Task": obj(
        {
            "id": INTEGER, "plan_id": INTEGER, "number": INTEGER, "title": STRING, "text": STRING,
            "section": obj({"number": INTEGER, "title": STRING}),
            "state": enum([s.value for s in TaskState]), "state_label": STRING, "version": INTEGER,
            "deadline": nullable(DATE), "original_deadline": nullable(DATE),
            "units": array(ref("TaskUnit")), "targets": array(ref("Target")),
            "progress": array(ref("TargetProgress")), "milestones": array(ref("Milestone")),
            "extensions": array(ref("Extension")),
            "actions": {**array(enum(list(TASK_ACTIONS))),
                        "description": "调用者现在可做的操作(与任务页面相同):填报、提出节点、申请办结、申请延期、"
                                       "审批延期、审批办结、暂缓、恢复、调整责任单位"},
        }
    ),
    "TargetProgress": obj(
        {
            "target_id": INTEGER, "target": NUMBER, "baseline": nullable(NUMBER),
            "value": {**nullable(NUMBER), "description": "最新审核通过的数值"},
            "share": {**nullable(NUMBER), "description": "完成比例(1 = 100%)"},
            "units": array(
                obj({"unit": ref("UnitRef"), "allocation": NUMBER, "value": nullable(NUMBER), "share": nullable(NUMBER)})
            ),
        },
        description="目标完成情况:基数、目标、最新审核通过值、完成比例,整体及分解到各单位",
    ),
    "Evidence": obj(
        {
            "id": INTEGER, "name": {**STRING, "description": "上传时的原文件名"}, "size": INTEGER,
            "content_type": STRING, "sha256": STRING, "task_id": INTEGER, "report_id": nullable(INTEGER),
            "milestone_id": nullable(INTEGER), "uploaded_at": DATETIME, "uploaded_by": nullable(ref("UserRef")),
            "download_url": STRING,
        }
    ),
    "Milestone": obj(MILESTONE),
    "Extension": obj(
        {
            "id": INTEGER, "task_id": INTEGER, "state": enum(["pending", "granted", "refused"]), "reason": STRING,
            "old_deadline": nullable(DATE), "new_deadline": DATE, "created_at": DATETIME,
            "decided_at": nullable(DATETIME), "decision_reason": nullable(STRING),
        }
    ),
    "ReportSummary": obj(REPORT_SUMMARY),
    "Report": obj(
        {
            **REPORT_SUMMARY,
            "text": STRING,
            "values": {"type": "object", "additionalProperties": NUMBER, "description": "{指标编号: 数值}"},
            "return_reason": nullable(STRING), "created_at": DATETIME, "updated_at": DATETIME,
            "first_submitted_at": nullable(DATETIME), "created_by": nullable(ref("UserRef")),
            "decided_by": nullable(ref("UserRef")), "evidence": array(ref("Evidence")),
            "versions": array(ref("ReportVersion")),
            "included": {**array(INTEGER), "description": "牵头单位报告引用的配合单位报送编号"},
            "due_on": {**DATE, "description": "报送时限:牵头单位报告为期次时限,配合单位报送更早"},
            "actions": {**array(enum(list(REPORT_ACTIONS))),
                        "description": "调用者现在可做的操作(与报告页面相同):修改、报送、采纳、审核通过、退回、重新打开"},
        }
    ),
    "ReportVersion": obj({"number": INTEGER, "submitted_at": DATETIME, "submitted_by": nullable(ref("UserRef"))}),
    "ReportVersionDetail": obj(
        {
            "number": INTEGER, "submitted_at": DATETIME, "submitted_by": nullable(ref("UserRef")), "text": STRING,
            "values": {"type": "object", "additionalProperties": NUMBER}, "evidence": array(INTEGER),
            "included": array(INTEGER),
        }
    ),
    "Comparison": obj(
        {
            "from": INTEGER, "to": INTEGER, "text_changed": BOOLEAN,
            "text_diff": {**array(STRING), "description": "逐行对比(unified diff)"},
            "values": array(obj({"target_id": INTEGER, "old": nullable(STRING), "new": nullable(STRING), "changed": BOOLEAN})),
        }
    ),
    "Owed": obj(
        {
            "unit": ref("UnitRef"), "kind": enum([k.value for k in ReportKind]), "due_on": DATE, "done": BOOLEAN,
            "light": LIGHT,
            "report_id": {**nullable(INTEGER), "description": "调用者可见时给出"},
        },
        description="某单位本期应报送的内容",
    ),
    "Period": obj(
        {
            "code": PERIOD_CODE, "label": STRING, "starts_on": DATE, "ends_on": DATE,
            "due_on": {**DATE, "description": "牵头单位报告的截止日期"},
            "contribution_due_on": {**DATE, "description": "配合单位报送的截止日期"},
            "report": nullable(ref("ReportSummary")), "contributions": array(ref("ReportSummary")),
            "owed": array(ref("Owed")),
        }
    ),
    "Me": obj(
        {
            "id": INTEGER, "login": STRING, "name": STRING, "unit": ref("UnitRef"), "roles": array(STRING),
            "permissions": array(STRING), "unread_notifications": INTEGER,
        }
    ),
    "Work": obj(
        {
            "today": DATE,
            "total": {**INTEGER, "description": "全部待办(不计筛选)"},
            "counts": {**obj({g: INTEGER for g in WORK_GROUPS}), "description": "按类别计数(已按计划、期次、单位筛选)"},
            "filters": obj({"plan": nullable(INTEGER), "period": nullable(STRING), "state": nullable(enum(WORK_GROUPS)),
                            "unit": nullable(INTEGER)}),
            "page": obj({"number": INTEGER, "size": INTEGER, "items": {**INTEGER, "description": "符合筛选的事项数"},
                         "pages": INTEGER}),
            "items": array(ref("WorkItem")),
            "choices": obj({
                "plans": array(obj({"id": INTEGER, "document_number": STRING})),
                "periods": array(obj({"code": PERIOD_CODE, "label": STRING})),
                "units": array(ref("UnitRef")),
            }, description="筛选可选值(取自全部待办,期次新的在前)"),
            "next_due": {**nullable(ref("NextDue")),
                         "description": "没有任何待办时:本单位下一次应报送的内容;有待办或不需报送时为 null"},
        },
        description="我的待办:先列可立即办理的(待审核、待决定、被退回),再列本期应办,最后是逾期;各类中新的期次在前(待审核先到先审)",
    ),
    "NextDue": obj(
        {
            "period": PERIOD_CODE, "period_label": STRING, "task": ref("TaskRef"),
            "kind": enum([k.value for k in ReportKind]), "kind_label": STRING,
            "due_on": {**DATE, "description": "截止日期(配合单位报送早于牵头单位报告)"},
            "working_days_left": {**INTEGER, "description": "距截止还有几个工作日;0 为今天截止"},
            "others_due": {**INTEGER, "description": "同一天截止的其他应报送事项数"},
        },
        description="本单位下一次应报送的内容:截止日期最早、尚未报送的一项(同日多项时取任务序号最前者)",
    ),
    "WorkItem": obj(
        {
            "group": enum(WORK_GROUPS), "group_label": STRING,
            "kind": enum(["lead_report_review", "contribution_review", "closing_request", "extension_request",
                          "milestone_confirm", "milestone_accept", "lead_confirm", "returned_report", "report_due",
                          "milestone_due"]),
            "kind_label": STRING, "task": ref("TaskRef"), "plan_id": INTEGER,
            "period": nullable(PERIOD_CODE), "period_label": nullable(STRING), "unit": nullable(ref("UnitRef")),
            "due_on": nullable(DATE), "light": nullable(LIGHT), "overdue_working_days": INTEGER,
            "since": nullable(DATETIME), "note": STRING, "state_label": STRING,
            "report_id": nullable(INTEGER), "milestone_id": nullable(INTEGER), "extension_id": nullable(INTEGER),
        },
        description="一项待办",
    ),
    "Dashboard": obj(
        {
            "plan": obj({"id": INTEGER, "document_number": STRING, "title": STRING}),
            "period": PERIOD_CODE, "as_of": DATE, "tasks": INTEGER,
            "lights": obj({"green": INTEGER, "yellow": INTEGER, "red": INTEGER}),
            "reports": {**obj({"owed": INTEGER, "approved": INTEGER, "submitted": INTEGER, "returned": INTEGER,
                               "missing": INTEGER}), "description": "本期牵头单位报告"},
            "time_share": {**NUMBER, "description": "计划序时进度(0-1)"},
            "sections": array(obj({"number": INTEGER, "title": STRING,
                                   "lights": obj({"green": INTEGER, "yellow": INTEGER, "red": INTEGER})})),
            "targets": array(obj({
                "id": INTEGER, "name": STRING, "goal": STRING, "measure": STRING, "latest": nullable(NUMBER),
                "latest_period": nullable(STRING), "share": nullable(NUMBER),
                "time_share": {**nullable(NUMBER), "description": "序时进度;基期值未给出时为 null"},
                "baseline_known": BOOLEAN, "is_behind": {**BOOLEAN, "description": "有审核通过的数值且低于序时进度"},
            })),
            "late": obj({
                "lead_reports": INTEGER, "contributions": INTEGER, "milestones": INTEGER, "returned": INTEGER,
                "red_tasks": INTEGER,
                "items": array(obj({"task": ref("TaskRef"), "unit": nullable(ref("UnitRef")), "kind": STRING,
                                    "title": STRING, "due_on": DATE, "overdue_working_days": INTEGER})),
            }),
        },
        description="督查看板:与页面和季度督查通报同一组数字",
    ),
    "Token": obj(TOKEN),
    "NewToken": obj({**TOKEN, "token": {**STRING, "description": "令牌本身,只在此处出现一次"}}),
    "Plan": {"type": "object", "required": ["id", "document_number", "title", "status", "first_period", "sections"],
             "properties": {
                 "id": INTEGER, "document_number": STRING, "title": STRING,
                 "status": {**enum([s.value for s in PlanStatus]),
                            "description": "draft:草稿(仅计划管理者可见,不需报送);published:已发布"},
                 "first_period": {**nullable(PERIOD_CODE), "description": "首个报送期次;草稿为 null"},
                 "sections": array({"type": "object"}),
             }},
    # Request bodies
    "ReportCreate": obj(
        {
            "task_id": INTEGER, "period": PERIOD_CODE, "text": {**STRING, "description": "进展情况"},
            "values": {"type": "object", "additionalProperties": nullable(NUMBER), "description": "{指标编号: 数值}"},
            "include": {**array(INTEGER), "description": "牵头单位报告引用的配合单位报送编号"},
        },
        optional=("text", "values", "include"),
    ),
    "ReportUpdate": obj(
        {
            "text": STRING,
            "values": {"type": "object", "additionalProperties": nullable(NUMBER)},
            "include": array(INTEGER),
            "version": {**INTEGER, "description": "最后看到的版本号;不一致时返回 409"},
        },
        optional=("text", "values", "include", "version"),
    ),
    "VersionBody": obj({"version": INTEGER}, optional=("version",)),
    "ReasonBody": obj({"reason": {**STRING, "minLength": 1}, "version": INTEGER}, optional=("version",)),
    "TokenCreate": obj({"label": {**STRING, "maxLength": 64}}, optional=("label",)),
    "TaskReason": obj({"reason": {**STRING, "minLength": 1}, "version": {**INTEGER, "description": "任务的版本号"}},
                      optional=("version",)),
    "CloseDecision": obj({"agree": BOOLEAN, "reason": {**STRING, "description": "不同意时必填"}, "version": INTEGER},
                         optional=("reason", "version")),
    "ExtensionCreate": obj({"new_deadline": DATE, "reason": {**STRING, "minLength": 1}}),
    "ExtensionDecision": obj({"grant": BOOLEAN, "reason": {**STRING, "description": "不同意时必填"},
                              "version": {**INTEGER, "description": "任务的版本号(最后看到的);不一致时返回 409"}},
                             optional=("reason", "version")),
    "MilestoneCreate": obj({"title": {**STRING, "minLength": 1, "maxLength": 200}, "due_on": DATE}),
    "MilestoneDone": obj({"note": STRING}, optional=("note",)),
    "MilestoneDecision": obj({"accept": BOOLEAN, "reason": {**STRING, "description": "验收不通过时必填"}},
                             optional=("reason",)),
    "Empty": obj({}),
    "TargetSplit": obj({"shares": {"type": "object", "additionalProperties": nullable(NUMBER),
                                   "description": "{单位编号: 分解数值},只能分给该任务的责任单位"}}),
}

ERROR_TEXT = {
    400: "输入无效(字段错误见 fields)",
    401: "未提供或提供了无效的令牌",
    403: "无权执行此操作",
    404: "不存在,或调用者无权知道它存在",
    409: "当前状态不允许此操作(invalid_transition),或已被他人修改(conflict)",
    413: "上传的文件超过大小上限",
    410: "附件文件已丢失或内容与登记的哈希值不一致(已拒绝并通知督办员)",
    503: "数据库暂时繁忙或不可用,本次操作未保存;按 Retry-After 秒数后重试",
}


def _errors(*codes: int) -> dict[str, Any]:
    # Every call may meet a database that is locked or gone (503, retry).
    return {str(code): {"$ref": f"#/components/responses/E{code}"} for code in (401, *codes, 503)}


def _json(schema: dict[str, Any], description: str = "成功") -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _id(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description, "schema": INTEGER}


def _body(name: str, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {JSON: {"schema": ref(name)}}}


def op(summary: str, tag: str, ok: dict[str, Any], *errors: int, status: int = 200, params=None, body=None,
       description: str | None = None) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "tags": [tag],
        "responses": {str(status): ok, **_errors(*errors)},
    }
    if description:
        operation["description"] = description
    if params:
        operation["parameters"] = params
    if body:
        operation["requestBody"] = body
    return operation


REPORT_ID = _id("report_id", "报告或配合单位报送的编号")


def _report_action(summary: str, body: str, description: str) -> dict[str, Any]:
    return {
        "post": op(summary, "reports", _json(ref("Report")), 400, 403, 404, 409, params=[REPORT_ID],
                   body=_body(body, required=body == "ReasonBody"), description=description)
    }


TASK_ID = _id("task_id", "任务编号")
MILESTONE_ID = _id("milestone_id", "节点编号")

UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {"type": "object", "required": ["file"],
                       "properties": {"file": {"type": "string", "contentMediaType": "application/octet-stream"}}},
        }
    },
}


def _upload(summary: str, param: dict[str, Any]) -> dict[str, Any]:
    return op(
        summary, "evidence", {**_json(ref("Evidence"), "已上传"), "headers": {"Location": {"schema": STRING}}},
        400, 403, 404, 409, 413, status=201, params=[param], body=UPLOAD_BODY,
        description="PDF、Word、Excel、PowerPoint、OFD、JPEG、PNG、ZIP;按内容判断类型;大小上限可配置(默认 50 MB)。",
    )


def _task_action(summary: str, body: str) -> dict[str, Any]:
    return {"post": op(summary, "lifecycle", _json(ref("Task")), 400, 403, 404, 409, params=[TASK_ID], body=_body(body))}


def _milestone_action(summary: str, body: str) -> dict[str, Any]:
    return {
        "post": op(summary, "lifecycle", _json(ref("Milestone")), 400, 403, 404, 409, params=[MILESTONE_ID],
                   body=_body(body, required=body == "MilestoneDecision"))
    }


PATHS: dict[str, Any] = {
    "/plans": {"get": op("行动计划列表", "tasks", _json(array(ref("Plan"))), 403, description="只列已发布的计划")},
    "/plans/{plan_id}": {
        "get": op("行动计划详情", "tasks", _json(ref("Plan")), 403, 404, params=[_id("plan_id", "计划编号")],
                  description="草稿只有计划管理者可读,其他人得到 404")
    },
    "/tasks": {
        "get": op(
            "任务列表", "tasks", _json(array(ref("TaskSummary"))), 400, 403,
            params=[
                {"name": "plan_id", "in": "query", "schema": INTEGER},
                {"name": "unit_id", "in": "query", "schema": INTEGER, "description": "该单位负责的任务"},
                {"name": "state", "in": "query", "schema": enum([s.value for s in TaskState])},
            ],
        )
    },
    "/tasks/{task_id}": {
        "get": op("任务详情:责任单位及角色、指标及完成情况、状态、节点、延期申请", "tasks", _json(ref("Task")), 403, 404,
                  params=[_id("task_id", "任务编号")])
    },
    "/tasks/{task_id}/periods": {
        "get": op(
            "任务的各报送期次:截止日期、应报送单位,以及调用者可见的报告和配合单位报送", "tasks",
            _json(array(ref("Period"))), 400, 403, 404,
            params=[_id("task_id", "任务编号"), {"name": "period", "in": "query", "schema": PERIOD_CODE}],
        )
    },
    "/reports": {
        "post": op(
            "新建本单位的报送", "reports",
            {**_json(ref("Report"), "已创建"), "headers": {"Location": {"schema": STRING}}},
            400, 403, 404, 409, status=201, body=_body("ReportCreate"),
            description="调用者所在单位是任务的牵头单位时创建牵头单位报告,否则创建配合单位报送。"
                        "同一单位同一任务同一期次只能有一份(否则 409)。",
        )
    },
    "/reports/{report_id}": {
        "get": op("报告详情", "reports", _json(ref("Report")), 404, params=[REPORT_ID]),
        "patch": op(
            "修改草稿或被退回的报告", "reports", _json(ref("Report")), 400, 403, 404, 409,
            params=[REPORT_ID], body=_body("ReportUpdate"),
            description="带上 version 时,若报告已被他人修改则返回 409 conflict,不做任何更改。",
        ),
    },
    "/reports/{report_id}/submit": _report_action("报送", "VersionBody", "配合单位报送给牵头单位;牵头单位报告报送给督办员。"),
    "/reports/{report_id}/accept": _report_action("采纳配合单位报送", "VersionBody", "仅牵头单位的联络员。"),
    "/reports/{report_id}/approve": _report_action("审核通过牵头单位报告", "VersionBody", "仅督办员;通过后报告锁定。"),
    "/reports/{report_id}/return": _report_action(
        "退回(须填写原因)", "ReasonBody", "督办员退回牵头单位报告;牵头单位联络员退回配合单位报送。"
    ),
    "/reports/{report_id}/reopen": _report_action("重新打开已审核通过的报告(须填写原因)", "ReasonBody", "仅督办员。"),
    "/reports/{report_id}/versions/{number}": {
        "get": op("某一报送版本(报送时的原样)", "reports", _json(ref("ReportVersionDetail")), 404,
                  params=[REPORT_ID, _id("number", "版本号,从 1 开始")])
    },
    "/reports/{report_id}/compare": {
        "get": op(
            "比较两个报送版本", "reports", _json(ref("Comparison")), 400, 404,
            params=[REPORT_ID, {"name": "from", "in": "query", "required": True, "schema": INTEGER},
                    {"name": "to", "in": "query", "required": True, "schema": INTEGER}],
        )
    },
    "/reports/{report_id}/evidence": {"post": _upload("上传报告的佐证材料", REPORT_ID)},
    "/evidence/{evidence_id}": {
        "get": op(
            "下载佐证材料", "evidence",
            {
                "description": "文件内容,以原文件名作为附件下载(Content-Disposition: attachment; filename*=UTF-8''…)",
                "headers": {"Content-Disposition": {"schema": STRING}, "X-Content-Type-Options": {"schema": STRING}},
                "content": {"application/octet-stream": {"schema": {"type": "string", "contentMediaType": "application/octet-stream"}}},
            },
            404, 410, params=[_id("evidence_id", "附件编号")],
        )
    },
    "/tasks/{task_id}/evidence": {"post": _upload("上传申请办结的佐证材料", TASK_ID)},
    "/tasks/{task_id}/request-close": _task_action("申请办结(牵头单位,须先上传佐证材料并填写原因)", "TaskReason"),
    "/tasks/{task_id}/decide-close": _task_action("同意或不同意办结(督办员)", "CloseDecision"),
    "/tasks/{task_id}/suspend": _task_action("暂缓(督办员,须填写原因)", "TaskReason"),
    "/tasks/{task_id}/resume": _task_action("恢复推进(督办员,须填写原因)", "TaskReason"),
    "/tasks/{task_id}/extensions": {
        "post": op("申请延期(牵头单位,须在完成时限前)", "lifecycle", _json(ref("Extension"), "已提交"), 400, 403, 404, 409,
                   status=201, params=[TASK_ID], body=_body("ExtensionCreate"))
    },
    "/extensions/{extension_id}/decide": {
        "post": op("同意或不同意延期(督办员);同意后任务完成时限改为新日期,原时限保留", "lifecycle", _json(ref("Extension")),
                   400, 403, 404, 409, params=[_id("extension_id", "延期申请编号")], body=_body("ExtensionDecision"))
    },
    "/tasks/{task_id}/milestones": {
        "post": op("提出节点(牵头单位)", "lifecycle", _json(ref("Milestone"), "已提出"), 400, 403, 404, status=201,
                   params=[TASK_ID], body=_body("MilestoneCreate"))
    },
    "/milestones/{milestone_id}/confirm": _milestone_action("确认节点(督办员)", "Empty"),
    "/milestones/{milestone_id}/evidence": {"post": _upload("上传节点完成的佐证材料", MILESTONE_ID)},
    "/milestones/{milestone_id}/done": _milestone_action("申请节点验收(牵头单位,须先上传佐证材料)", "MilestoneDone"),
    "/milestones/{milestone_id}/decide": _milestone_action("节点验收通过或不通过(督办员)", "MilestoneDecision"),
    "/targets/{target_id}/split": {
        "post": op("目标分解(督办员):把任务指标分给各责任单位", "lifecycle", _json(ref("Task")), 400, 403, 404,
                   params=[_id("target_id", "指标编号")], body=_body("TargetSplit"))
    },
    "/dashboard": {"get": op("督查看板的数字(领导、督办员)", "dashboard", _json(ref("Dashboard")), 400, 403, 404, params=[
        {"name": "plan", "in": "query", "schema": {**INTEGER, "minimum": 1}, "description": "计划编号,默认最新的计划"},
        {"name": "period", "in": "query", "schema": {**STRING, "maxLength": 16},
         "description": "报送期次,默认截至 as_of 已结束的最后一期"},
        {"name": "as_of", "in": "query", "schema": DATE, "description": "判断红黄绿灯和逾期的日期,默认今天"},
    ])},
    "/me": {"get": op("当前用户", "me", _json(ref("Me")))},
    "/me/work": {"get": op("我的待办", "me", _json(ref("Work")), 400, 403, params=[
        {"name": "plan", "in": "query", "schema": {**INTEGER, "minimum": 1}, "description": "行动计划编号"},
        {"name": "period", "in": "query", "schema": {**STRING, "maxLength": 16}, "description": "报送期次,如 2025Q2"},
        {"name": "state", "in": "query", "schema": enum(WORK_GROUPS),
         "description": "类别:review 待审核、decide 待决定、returned 被退回、due 本期应办、overdue 已逾期"},
        {"name": "unit", "in": "query", "schema": {**INTEGER, "minimum": 1}, "description": "单位编号"},
        {"name": "page", "in": "query", "schema": {**INTEGER, "minimum": 1, "maximum": 100000}},
        {"name": "per_page", "in": "query", "schema": {**INTEGER, "minimum": 1, "maximum": 100}},
    ])},
    "/me/tokens": {
        "get": op("我的 API 令牌(只能凭登录会话调用,凭 API 令牌调用时 403)", "me", _json(array(ref("Token"))), 403),
        "post": op("新建 API 令牌(只能凭登录会话调用,凭 API 令牌调用时 403)", "me",
                   _json(ref("NewToken"), "已创建;令牌只显示这一次"), 400, 403, status=201,
                   body=_body("TokenCreate", required=False)),
    },
    "/me/tokens/{token_id}": {
        "delete": op("撤销 API 令牌", "me", _json(ref("Token"), "已撤销"), 403, 404, 409,
                     params=[_id("token_id", "令牌编号")])
    },
    "/openapi.json": {
        "get": {
            "summary": "本文档", "tags": ["meta"], "security": [],
            "responses": {"200": {"description": "OpenAPI 3.1 文档", "content": {JSON: {"schema": {"type": "object"}}}}},
        }
    },
}


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "督查督办系统 API",
            "version": "1.0.0",
            "description": "与页面使用同一套业务规则和权限。认证:Authorization: Bearer <令牌>"
                           "(令牌由 `flask user token LOGIN` 或个人资料页生成,可撤销)。"
                           "错误以 JSON {\"error\", \"message\"} 返回,字段错误在 \"fields\" 中。",
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "tags": [{"name": n} for n in ("tasks", "reports", "lifecycle", "evidence", "dashboard", "me", "meta")],
        "paths": PATHS,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": SCHEMAS,
            "responses": {
                f"E{code}": {"description": text, "content": {JSON: {"schema": ref("Error")}}}
                for code, text in ERROR_TEXT.items()
            },
        },
    }


@bp.get("/openapi.json")
def openapi():
    return jsonify(document())
