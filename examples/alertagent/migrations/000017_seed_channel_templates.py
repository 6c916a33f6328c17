"""Seed the default channel templates, one per channel type."""

import json

# (type, name, description, config template); {{ ... }} are filled in when
# a channel is created from the template.
TEMPLATES = [
    (
        "email",
        "default-email",
        "SMTP e-mail to a list of addresses",
        {
            "smtp_host": "{{ smtp_host }}",
            "smtp_port": 587,
            "from": "{{ from }}",
            "to": [],
            "subject": "[{{ level }}] {{ name }}",
        },
    ),
    (
        "webhook",
        "default-webhook",
        "HTTP POST of the alert as JSON",
        {"url": "{{ url }}", "method": "POST", "headers": {"Content-Type": "application/json"}, "timeout_seconds": 10},
    ),
    (
        "dingtalk",
        "default-dingtalk",
        "DingTalk group robot (markdown message)",
        {"webhook_url": "{{ webhook_url }}", "secret": "{{ secret }}", "msg_type": "markdown", "at_all": False},
    ),
    (
        "wechat",
        "default-wechat",
        "WeCom (WeChat Work) group robot",
        {"webhook_url": "{{ webhook_url }}", "msg_type": "markdown", "mentioned_list": []},
    ),
    (
        "feishu",
        "default-feishu",
        "Feishu/Lark group robot (interactive card)",
        {"webhook_url": "{{ webhook_url }}", "secret": "{{ secret }}", "msg_type": "interactive"},
    ),
    (
        "slack",
        "default-slack",
        "Slack incoming webhook",
        {"webhook_url": "{{ webhook_url }}", "channel": "#alerts", "username": "AlertAgent"},
    ),
]


def up(ctx):
    p = ctx.placeholder
    ctx.executemany(
        "INSERT INTO channel_templates (type, name, description, config_template, is_default, created_by) "
        f"VALUES ({p}, {p}, {p}, CAST({p} AS jsonb), TRUE, 'migrata')",
        [(kind, name, text, json.dumps(config)) for kind, name, text, config in TEMPLATES],
    )
    ctx.log.info("seeded %d default channel templates", len(TEMPLATES))


def down(ctx):
    p = ctx.placeholder
    ctx.executemany(
        f"DELETE FROM channel_templates WHERE type = {p} AND name = {p} AND created_by = 'migrata'",
        [(kind, name) for kind, name, _, _ in TEMPLATES],
    )
