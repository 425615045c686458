"""moto DynamoDB tables shaped like the ones infra/ deploys."""

from __future__ import annotations

from typing import Any


def create_prompt_table(client: Any, name: str) -> None:
    """The prompt_templates table: task_name (partition) + prompt_version (sort)."""
    client.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "task_name", "KeyType": "HASH"},
            {"AttributeName": "prompt_version", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "task_name", "AttributeType": "S"},
            {"AttributeName": "prompt_version", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
