"""Every string the web UI shows, in Chinese (the default) and English.

The UI is built once per language, so a string is looked up when the page is built, and
handlers that produce text take the language they were built for. The strings of an answer
(reasoning titles, the AI-generated label, citation pages) are put together by
``webui.answer_view``.
"""

from __future__ import annotations

from enum import StrEnum


class Lang(StrEnum):
    ZH = "zh"
    EN = "en"


DEFAULT_LANG = Lang.ZH

# The label the 2025 rules on labelling generated content require on every AI answer; it
# reads the same in both languages so an exported file is labelled for every reader.
# ``webui.answer_view`` puts it under every answer; the chat window also stamps it on copied
# text (``webui.ui_chat``). Exported files are labelled by the gateway (GB 45438).
AI_LABEL = "由人工智能生成 · AI-generated"

_STRINGS: dict[str, tuple[str, str]] = {
    "app_title": ("DeepSeek-R1 智能助手", "DeepSeek-R1 Assistant"),
    "tab_chat": ("对话", "Chat"),
    "tab_audit": ("审计", "Audit"),
    "tab_admin": ("管理", "Admin"),
    "sign_out": ("退出登录", "Sign out"),
    "signed_in_as": ("当前用户：{user}", "Signed in as {user}"),
    "switch_language": ("English", "中文"),
    "quota": (
        "今日剩余额度：**{remaining}** / {total} tokens",
        "Remaining today: **{remaining}** / {total} tokens",
    ),
    "quota_unknown": ("今日剩余额度：未知", "Remaining today: unknown"),
    "new_chat": ("＋ 新建对话", "+ New chat"),
    "history": ("历史对话", "Conversations"),
    "no_history": ("暂无对话", "No conversations yet"),
    "rename": ("重命名", "Rename"),
    "rename_placeholder": ("新的标题", "New title"),
    "delete": ("删除", "Delete"),
    "export_chat": ("导出对话", "Export chat"),
    "export_format": ("导出格式", "Export format"),
    "chatbot_label": ("对话", "Conversation"),
    "input_placeholder": (
        "输入问题，Enter 发送，Shift+Enter 换行",
        "Ask a question. Enter sends, Shift+Enter adds a line",
    ),
    "send": ("发送", "Send"),
    "stop": ("停止", "Stop"),
    "regenerate": ("重新生成", "Regenerate"),
    "thinking": ("思考中…", "Thinking…"),
    "thought_for": ("已深度思考 {seconds} 秒", "Thought for {seconds} s"),
    "stopped": ("（已停止生成）", "(generation stopped)"),
    "ai_label": (AI_LABEL, AI_LABEL),
    "err_rate_limited": (
        "请求太频繁或今日额度已用完，请在 {when} 后重试。",
        "Too many requests or today's quota is used up; please retry in {when}.",
    ),
    "err_busy": (
        "服务暂时繁忙，请在 {when} 后重试。",
        "The service is busy right now; please retry in {when}.",
    ),
    "err_generic": ("请求失败：{message}", "The request failed: {message}"),
    "err_session": (
        "登录已过期，请刷新页面重新登录。",
        "Your sign-in has expired; reload the page to sign in again.",
    ),
    "seconds": ("{n} 秒", "{n} s"),
    "a_moment": ("片刻", "a moment"),
    "chat_empty": ("有什么可以帮您？", "How can I help?"),
    "you": ("用户", "You"),
    "page_n": ("第 {page} 页", "p. {page}"),
    "data_grade": ("数据等级：{grade}", "Data grade: {grade}"),
    "kb_picker": ("引用知识库", "Cite knowledge bases"),
    "deep_thinking": ("深度思考", "Deep thinking"),
    "deep_thinking_always": ("该模型总是先思考再回答", "This model always thinks first"),
    "deep_thinking_none": ("该模型不支持深度思考", "This model cannot think first"),
    "deep_thinking_switch": ("先推理再回答，较慢", "Reason before answering; slower"),
    "assistant": ("助手", "Assistant"),
    # Audit
    "f_user": ("用户名", "User"),
    "f_department": ("部门", "Department"),
    "f_department_ph": ("如 /dept/finance", "e.g. /dept/finance"),
    "f_event_type": ("事件类型", "Event type"),
    "f_outcome": ("结果", "Outcome"),
    "f_since": ("开始时间", "From"),
    "f_until": ("结束时间", "Until"),
    "f_time_ph": ("YYYY-MM-DD 或 YYYY-MM-DD HH:MM", "YYYY-MM-DD or YYYY-MM-DD HH:MM"),
    "any": ("全部", "Any"),
    "search": ("查询", "Search"),
    "f_keyword": ("关键词", "Keyword"),
    "exported": ("已导出 {n} 条", "{n} events exported"),
    "export_csv": ("导出 CSV", "Export CSV"),
    "export_jsonl": ("导出 JSON Lines", "Export JSON Lines"),
    "verify": ("校验审计链", "Verify the chain"),
    "events": ("审计事件", "Audit events"),
    "event_detail": ("事件详情（点击表格中的一行）", "Event record (click a row)"),
    "download": ("下载", "Download"),
    "col_seq": ("序号", "Seq"),
    "col_time": ("时间", "Time"),
    "col_type": ("类型", "Type"),
    "col_outcome": ("结果", "Outcome"),
    "col_user": ("用户", "User"),
    "col_groups": ("部门", "Departments"),
    "col_tokens": ("tokens", "Tokens"),
    "col_prompt": ("提问", "Prompt"),
    "events_found": ("共 {n} 条（最新的在前）", "{n} events, newest first"),
    "skip_signatures": ("跳过签名校验（仅限开发环境）", "Skip signatures (development only)"),
    "verify_unsigned": (
        "⚠️ 未校验检查点签名：能改写数据库的人可能已同时改写审计链及其检查点。",
        "⚠️ Checkpoint signatures were NOT verified: whoever can write to the database could "
        "have rewritten the chain and its checkpoints.",
    ),
    "verify_ok": (
        "✅ 审计链完整：已校验 {count} 条记录，签名检查点 {signed} 个。",
        "✅ The chain is intact: {count} records checked, {signed} signed checkpoints.",
    ),
    "verify_bad": (
        "❌ 审计链异常：第 {seq} 条起校验失败（{reason}）。{message}",
        "❌ The chain is broken at record {seq} ({reason}). {message}",
    ),
    "bad_time": ("时间格式无效：{value}", "Invalid time: {value}"),
    # Admin
    "backends": ("推理后端", "Inference backends"),
    "refresh": ("刷新", "Refresh"),
    "col_backend": ("地址", "URL"),
    "col_healthy": ("状态", "Status"),
    "col_inflight": ("进行中请求", "In flight"),
    "col_queued": ("排队请求", "Queued"),
    "col_models": ("模型", "Models"),
    "col_last_error": ("最近错误", "Last error"),
    "up": ("正常", "up"),
    "down": ("故障", "down"),
    "limits": (
        "每个后端并发上限：{cap}。每用户每日 token 额度：{quota}；每用户并发：{concurrency}。",
        "Per-backend in-flight cap: {cap}. Daily token quota per user: {quota}; "
        "concurrent requests per user: {concurrency}.",
    ),
    "usage": ("今日用量", "Usage today"),
    "error_rate": (
        "最近 {minutes} 分钟：{requests} 次对话，{failed} 次失败，错误率 {rate:.1%}。",
        "Last {minutes} minutes: {requests} chats, {failed} failed, error rate {rate:.1%}.",
    ),
    "col_department": ("部门", "Department"),
    "col_tokens_today": ("今日 token", "Tokens today"),
    "col_requests_today": ("今日对话", "Chats today"),
    "col_remaining": ("剩余额度", "Remaining"),
    "col_users": ("用户数", "Users"),
    # Knowledge
    "tab_knowledge": ("知识库", "Knowledge"),
    "kb_new": ("新建知识库", "New knowledge base"),
    "kb_name": ("名称", "Name"),
    "kb_group": ("所属部门", "Department"),
    "kb_description": ("说明（可选）", "Description (optional)"),
    "kb_create": ("创建", "Create"),
    "kb_created": ("已创建知识库「{name}」。", "Knowledge base “{name}” created."),
    "kb_name_needed": ("请填写知识库名称并选择部门。", "Enter a name and choose a department."),
    "kb_current": ("知识库", "Knowledge base"),
    "kb_files": ("上传文件（可多选）", "Files to upload (several at once)"),
    "kb_formats": (
        "支持 PDF、OFD（公文、电子发票）、Word、Excel、PowerPoint、HTML、Markdown、TXT、CSV。",
        "PDF, OFD (official documents, e-invoices), Word, Excel, PowerPoint, HTML, Markdown, "
        "TXT and CSV are supported.",
    ),
    "kb_upload": ("上传并建立索引", "Upload and index"),
    "kb_choose_first": ("请先选择知识库和文件。", "Choose a knowledge base and files first."),
    "kb_uploading": (
        "正在上传并建立索引 {done} / {total}：{name}",
        "Uploading and indexing {done} / {total}: {name}",
    ),
    "kb_uploaded": (
        "上传完成：{ok} 个成功，{failed} 个失败（共 {total} 个）。",
        "Upload finished: {ok} accepted, {failed} failed ({total} in all).",
    ),
    "kb_documents": ("文档", "Documents"),
    "kb_doc_count": ("共 {n} 个文档", "{n} documents"),
    "kb_pick_doc": ("选择文档", "Document"),
    "kb_delete_doc": ("删除文档", "Delete document"),
    "kb_deleted": ("已删除「{name}」。", "“{name}” deleted."),
    "kb_grade": ("数据等级", "Data grade"),
    "kb_grades": ("数据等级", "Data grades"),
    "kb_set_grade": ("设置等级", "Set grade"),
    "kb_upload_grade": ("新文档的等级", "Grade of new documents"),
    "kb_doc_grade": ("文档等级", "Document grade"),
    "kb_grade_of_kb": ("随知识库", "As the knowledge base"),
    "kb_grade_inherited": ("{grade}（随知识库）", "{grade} (knowledge base's)"),
    "kb_grade_set": ("「{name}」的数据等级为{grade}。", "“{name}” is graded {grade}."),
    "kb_err_unknown_grade": ("没有这个数据等级。", "There is no such data grade."),
    "col_doc_grade": ("等级", "Grade"),
    "col_doc_name": ("文件名", "File"),
    "col_doc_status": ("状态", "Status"),
    "col_doc_chunks": ("片段数", "Chunks"),
    "col_doc_error": ("问题", "Problem"),
    "col_doc_uploaded": ("上传时间", "Uploaded"),
    "status_queued": ("排队中", "queued"),
    "status_processing": ("处理中…", "processing…"),
    "status_ready": ("就绪", "ready"),
    "status_failed": ("失败", "failed"),
    "kb_err_empty_file": ("文件是空的。", "The file is empty."),
    "kb_err_file_too_large": (
        "文件太大，请拆分后再上传。",
        "The file is too large; split it and upload the parts.",
    ),
    "kb_err_payload_too_large": (
        "文件太大，请拆分后再上传。",
        "The file is too large; split it and upload the parts.",
    ),
    "kb_err_unsupported_type": ("不支持这种文件格式。", "This file type is not supported."),
    "kb_err_type_mismatch": (
        "文件内容与扩展名不符，请检查文件是否损坏或改过扩展名。",
        "The content does not match the file extension; check the file.",
    ),
    "kb_err_encrypted": (
        "文件有密码保护，请去除密码后再上传。",
        "The file is password-protected; remove the password and upload again.",
    ),
    "kb_err_corrupt_file": ("文件已损坏，无法读取。", "The file is damaged and cannot be read."),
    "kb_err_zip_bomb": (
        "文件解压后过大，已拒绝。",
        "The file expands to far too much data and was refused.",
    ),
    "kb_err_no_text": (
        "文件中没有可提取的文字（扫描件请先做文字识别）。",
        "The file has no extractable text (run OCR on scanned documents first).",
    ),
    "kb_err_unknown_encoding": (
        "无法识别文件的文字编码，请另存为 UTF-8。",
        "The text encoding is not recognised; save the file as UTF-8.",
    ),
    "kb_err_embedding_unavailable": (
        "索引服务暂时不可用，请稍后重新上传。",
        "The indexing service is unavailable; upload again later.",
    ),
    "kb_err_kb_exists": (
        "该部门已有同名知识库。",
        "This department already has a knowledge base with that name.",
    ),
    "kb_err_forbidden": ("您没有管理该知识库的权限。", "You may not manage this knowledge base."),
    "kb_err_other": ("处理失败：{message}", "Processing failed: {message}"),
    # Security administration (secadmin)
    "tab_secadmin": ("安全管理", "Security"),
    "tab_keywords": ("关键词库", "Keyword library"),
    "err_not_secadmin": (
        "只有安全管理员可以管理关键词库。",
        "Only the security administrator may manage the keyword library.",
    ),
    "kw_search": ("搜索", "Search"),
    "kw_search_ph": ("编号、关键词或类别的一部分", "Part of an id, term or category"),
    "kw_prev": ("上一页", "Previous"),
    "kw_next": ("下一页", "Next"),
    "kw_page": ("第 {first}–{last} 条，共 {total} 条", "Entries {first}–{last} of {total}"),
    "kw_page_none": ("本页无条目，共 {total} 条", "No entries on this page, {total} in all"),
    "kw_revision": (
        "当前版本：修订号 **{revision}**，版本 `{version}`，{entries} 条，导入人 {by}",
        "Active library: revision **{revision}**, version `{version}`, {entries} entries, "
        "imported by {by}",
    ),
    "kw_col_id": ("编号", "Id"),
    "kw_col_term": ("关键词", "Term"),
    "kw_col_category": ("类别", "Category"),
    "kw_col_match": ("匹配方式", "Match"),
    "kw_col_action": ("处置", "Action"),
    "kw_col_revision": ("修订号", "Revision"),
    "kw_col_version": ("版本", "Version"),
    "kw_col_entries": ("条目数", "Entries"),
    "kw_col_by": ("导入人", "Imported by"),
    "kw_col_change": ("变更", "Change"),
    "kw_history": ("版本历史", "Version history"),
    "kw_export_xlsx": ("导出 Excel", "Export XLSX"),
    "kw_import": ("导入关键词库", "Import a library"),
    "kw_import_help": (
        "上传 CSV 或 Excel（.xlsx）文件，列为 id、term、category、match、action；"
        "先预览变更，确认后才替换当前关键词库。",
        "Upload a CSV or Excel (.xlsx) file with the columns id, term, category, match, "
        "action; the changes are previewed first and the library is replaced only when "
        "you confirm.",
    ),
    "kw_import_file": ("关键词库文件", "Library file"),
    "kw_preview": ("预览变更", "Preview changes"),
    "kw_choose_file": ("请先选择要导入的文件。", "Choose a file to import first."),
    "kw_preview_first": ("请先预览变更。", "Preview the changes first."),
    "kw_no_change": (
        "文件与当前关键词库相同，无需导入。",
        "The file is the same as the active library; there is nothing to import.",
    ),
    "kw_diff": (
        "「{name}」与修订号 {revision} 相比：新增 {added} 条，删除 {removed} 条，"
        "修改 {changed} 条。确认后生效。",
        "“{name}” against revision {revision}: {added} added, {removed} removed, "
        "{changed} changed. Confirm to apply.",
    ),
    "kw_added": ("新增", "added"),
    "kw_removed": ("删除", "removed"),
    "kw_changed": ("修改", "changed"),
    "kw_confirm": ("确认导入", "Confirm import"),
    "kw_cancel": ("取消", "Cancel"),
    "kw_applied": (
        "已导入，新修订号 {revision}：新增 {added} 条，删除 {removed} 条，修改 {changed} 条。",
        "Imported as revision {revision}: {added} added, {removed} removed, {changed} changed.",
    ),
    "kw_conflict": (
        "预览之后关键词库已被他人修改，本次未导入。请重新预览后再确认。",
        "The library was changed by someone else after your preview; nothing was imported. "
        "Preview the file again, then confirm.",
    ),
    "sec_err_invalid_keyword_library": ("文件有误：{message}", "The file is wrong: {message}"),
    "sec_err_payload_too_large": (
        "文件太大，无法导入。",
        "The file is too large to import.",
    ),
    "sec_err_workbook_too_large": (
        "Excel 文件解压后过大，已拒绝。",
        "The workbook expands to far too much data and was refused.",
    ),
    "sec_err_audit_unavailable": (
        "审计服务不可用，本次未作任何修改，请稍后重试。",
        "The audit log is unavailable, so nothing was changed; please try again later.",
    ),
    # Complaints (举报/反馈): flagged from the chat, handled by the secadmin
    "flag_option": ("举报/反馈", "Report"),
    "flag_title": ("举报/反馈此回答", "Report this answer"),
    "flag_target": ("第 {position} 条消息：{excerpt}", "Message {position}: {excerpt}"),
    "flag_category": ("类别", "Category"),
    "flag_cat_illegal": ("违法违规", "Illegal or harmful"),
    "flag_cat_false_information": ("不实信息", "False information"),
    "flag_cat_personal_information": ("个人信息", "Personal information"),
    "flag_cat_other": ("其他", "Other"),
    "flag_reason": ("理由", "Reason"),
    "flag_reason_ph": ("请说明问题所在（可选）", "What is wrong with it (optional)"),
    "flag_submit": ("提交举报", "Submit report"),
    "flag_cancel": ("取消", "Cancel"),
    "flag_filed": (
        "已提交举报（编号 {id}），安全管理员将处理。",
        "Report {id} submitted; the security administrator will handle it.",
    ),
    "flag_unsaved": (
        "请在回答生成并保存后再举报。",
        "Report an answer once it has been generated and saved.",
    ),
    "flag_mine": ("我的举报", "My reports"),
    "flag_refresh": ("刷新", "Refresh"),
    "flag_failed": ("举报未提交：{message}", "The report was not submitted: {message}"),
    "cp_state_open": ("待处理", "Open"),
    "cp_state_handled": ("已处理", "Handled"),
    "cp_state_dismissed": ("已驳回", "Dismissed"),
    "cp_state_all": ("全部", "All"),
    "cp_col_id": ("编号", "Id"),
    "cp_col_state": ("状态", "State"),
    "cp_col_category": ("类别", "Category"),
    "cp_col_reason": ("理由", "Reason"),
    "cp_col_reporter": ("举报人", "Reported by"),
    "cp_col_question": ("提问", "Question"),
    "cp_col_answer": ("回答", "Answer"),
    "cp_col_handler": ("处理人", "Handled by"),
    "cp_col_note": ("处理说明", "Note"),
    "tab_complaints": ("投诉处理", "Complaints"),
    "tab_compliance": ("等保材料", "Compliance evidence"),
    "compliance_export": ("导出等保测评材料", "Export compliance evidence"),
    "compliance_exported": (
        "已导出等保测评材料 {name}：账户、权限矩阵、审计统计、留存、关键词库版本、测评报告，"
        "附 SHA-256 与 SM3 清单。",
        "Exported {name}: accounts, permission matrix, audit statistics, retention, keyword "
        "library version, assessment report, with a SHA-256 and SM3 manifest.",
    ),
    "err_not_secadmin_complaints": (
        "只有安全管理员可以处理投诉。",
        "Only the security administrator may handle complaints.",
    ),
    "cp_filter": ("状态", "State"),
    "cp_page": ("第 {first}–{last} 条，共 {total} 条", "Complaints {first}–{last} of {total}"),
    "cp_pick": ("投诉编号", "Complaint id"),
    "cp_close_as": ("处理结果", "Close as"),
    "cp_note": ("处理说明（必填）", "Note (required)"),
    "cp_note_ph": (
        "说明核实情况和采取的措施",
        "What was checked and what was done",
    ),
    "cp_submit": ("提交处理结果", "Close the complaint"),
    "cp_need_id": ("请先填写投诉编号。", "Enter a complaint id first."),
    "cp_need_note": ("请填写处理说明。", "Write a note first."),
    "cp_closed": ("投诉 {id} 已标记为「{state}」。", "Complaint {id} closed as “{state}”."),
    "sec_err_complaint_closed": (
        "该投诉已处理，不能再次处理。",
        "That complaint is closed already.",
    ),
    "sec_err_complaint_not_found": ("没有该编号的投诉。", "There is no complaint with that id."),
    # Personal API keys (密钥), every signed-in user's own
    "tab_keys": ("密钥", "API keys"),
    "key_intro": (
        "个人 API 密钥供 Cherry Studio、Dify 等 OpenAI 兼容工具使用：接口地址填写本系统的 "
        "`/v1`，密钥代表您本人，沿用您的角色、部门、额度和审计身份。",
        "A personal API key lets an OpenAI-compatible tool (Cherry Studio, Dify, ...) use "
        "this system: give it this system's `/v1` address and the key. The key acts as you, "
        "with your roles, departments, quota and audit identity.",
    ),
    "key_mine": ("我的密钥", "My keys"),
    "key_col_name": ("名称", "Name"),
    "key_col_prefix": ("前缀", "Prefix"),
    "key_col_state": ("状态", "State"),
    "key_col_created": ("创建时间 (UTC)", "Created (UTC)"),
    "key_col_expires": ("到期时间 (UTC)", "Expires (UTC)"),
    "key_col_last_used": ("最近使用 (UTC)", "Last used (UTC)"),
    "key_col_models": ("可用模型", "Models"),
    "key_col_cidrs": ("允许的来源地址", "Allowed source addresses"),
    "key_col_kb_scope": ("可检索的知识库", "Knowledge bases"),
    "key_state_valid": ("有效", "valid"),
    "key_state_expired": ("已过期", "expired"),
    "key_state_revoked": ("已吊销", "revoked"),
    "key_never_used": ("从未使用", "never"),
    "key_any_model": ("全部", "all"),
    "key_any_address": ("不限", "any"),
    "key_any_kb": ("全部", "all"),
    "key_count": ("共 {n} 个密钥（最新的在前）", "{n} keys, newest first"),
    "key_new": ("新建密钥", "New key"),
    "key_name": ("名称", "Name"),
    "key_name_ph": ("用途，如 Cherry Studio", "What it is for, e.g. Cherry Studio"),
    "key_days": ("有效天数", "Valid for (days)"),
    "key_models": ("限定模型（可选，不选则不限）", "Models (optional; none chosen: all)"),
    "key_cidrs": ("限定来源地址（可选）", "Allowed source addresses (optional)"),
    "key_kb_scope": (
        "限定知识库（可选，不选则为您可读的全部知识库）",
        "Knowledge bases (optional; none chosen: every one you may read)",
    ),
    "key_cidrs_ph": (
        "每行一个 IP 地址或网段，如 10.20.0.0/16；留空则不限",
        "One address or network a line, e.g. 10.20.0.0/16; empty: any",
    ),
    "key_create": ("创建密钥", "Create key"),
    "key_created": (
        "已创建密钥「{name}」，有效期至 {expires} (UTC)。",
        "Key “{name}” created, valid until {expires} (UTC).",
    ),
    "key_secret": ("新密钥", "Your new key"),
    "key_secret_warning": (
        "⚠️ 请立即复制并妥善保存：此密钥只显示这一次，离开或刷新页面后将无法再次查看。"
        "遗失后只能吊销并新建。",
        "⚠️ Copy it now and keep it safe: it is shown this once and cannot be seen again "
        "after you leave or reload the page. If you lose it, revoke it and make a new one.",
    ),
    "key_secret_done": ("我已保存，隐藏密钥", "I have saved it; hide the key"),
    "key_revoke_title": ("吊销密钥", "Revoke a key"),
    "key_revoke_pick": ("选择要吊销的密钥", "Key to revoke"),
    "key_revoke": ("吊销", "Revoke"),
    "key_revoke_confirm": (
        "确定吊销密钥「{label}」吗？吊销后立即失效，且无法恢复。",
        "Revoke the key “{label}”? It stops working at once, and this cannot be undone.",
    ),
    "key_revoke_yes": ("确认吊销", "Yes, revoke it"),
    "key_revoke_no": ("取消", "Cancel"),
    "key_revoked": ("已吊销密钥「{name}」。", "Key “{name}” revoked."),
    "key_pick_first": ("请先选择要吊销的密钥。", "Choose a key to revoke first."),
    "key_err_name": ("请填写密钥名称。", "Enter a name for the key."),
    "key_err_name_long": ("名称最多 {n} 个字符。", "The name may have at most {n} characters."),
    "key_err_days": (
        "有效天数须为正整数。",
        "The number of days must be a whole number, 1 or more.",
    ),
    "key_err_cidr": (
        "「{entry}」不是有效的 IP 地址或网段。",
        "“{entry}” is not an address or network.",
    ),
    "key_err_too_many": (
        "模型、来源地址和知识库各最多 {n} 项。",
        "At most {n} models, {n} addresses and {n} knowledge bases.",
    ),
    "key_err_invalid_expiry": (
        "有效天数超出管理员允许的范围，请缩短后重试。",
        "That many days is beyond what the administrator allows; choose fewer.",
    ),
    "key_err_invalid_cidr": (
        "来源地址中有无效的 IP 地址或网段。",
        "One of the source addresses is not an address or network.",
    ),
    "key_err_invalid_request": (
        "填写的内容有误，请检查名称、天数、模型和来源地址。",
        "Something in the form is wrong; check the name, days, models and addresses.",
    ),
    "key_err_api_keys_disabled": (
        "本系统尚未启用 API 密钥，请联系系统管理员。",
        "API keys are not enabled on this system; ask your administrator.",
    ),
    "key_err_api_key_not_found": (
        "没有这个密钥，可能已被删除或不属于您。",
        "There is no such key of yours.",
    ),
    "key_err_api_key_cannot_manage_keys": (
        "密钥只能在登录后管理，不能用 API 密钥管理。",
        "Keys are managed after signing in, not with an API key.",
    ),
    "key_err_audit_unavailable": (
        "审计服务不可用，本次未作任何修改，请稍后重试。",
        "The audit log is unavailable, so nothing was changed; please try again later.",
    ),
    "key_err_missing_role": (
        "您的账号没有管理密钥的权限。",
        "Your account may not manage API keys.",
    ),
    "key_err_api_key_policy_creators": (
        "安全管理员的密钥策略不允许您创建 API 密钥。",
        "The security administrator's API key policy does not let you create keys.",
    ),
    "key_err_api_key_policy_max_days": (
        "有效天数超出安全管理员的密钥策略允许的上限，请缩短后重试。",
        "The security administrator's API key policy allows fewer days; choose fewer.",
    ),
    "key_err_api_key_policy_models": (
        "安全管理员的密钥策略要求密钥限定模型，且只能选择策略允许的模型。",
        "The security administrator's API key policy requires the key to name its models, "
        "from those the policy allows.",
    ),
    "key_err_kb_not_in_key_scope": (
        "该 API 密钥不能检索这个知识库：它不在密钥限定的知识库范围内。",
        "This API key may not retrieve from that knowledge base: it is outside the key's "
        "knowledge-base scope.",
    ),
    "key_err_other": ("操作失败：{message}", "The request failed: {message}"),
    # Pages outside Gradio
    "no_access_title": ("无权访问", "No access"),
    "no_access_body": (
        "您的账号（{user}）没有使用本系统的权限。如需开通，请联系系统管理员。",
        "Your account ({user}) has no access to this system. Ask your administrator for access.",
    ),
    "sign_in_failed": (
        "登录失败，请重试。",
        "Signing in failed; please try again.",
    ),
    "try_again": ("重新登录", "Sign in again"),
}


def known(key: str) -> bool:
    """Whether ``key`` has a translation, for keys built from codes the gateway sends."""
    return key in _STRINGS


def t(key: str, lang: Lang, **values: object) -> str:
    """The string ``key`` in ``lang``, with ``values`` filled in."""
    zh, en = _STRINGS[key]
    text = zh if lang is Lang.ZH else en
    return text.format(**values) if values else text
