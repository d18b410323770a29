-- Workspace budgets (OpenRouter /workspaces/{workspace_ref}/budgets): at
-- most one per workspace and window, reset_interval '' for a lifetime
-- budget as in api_keys.limit_reset. include_byok is the workspace's
-- include_byok_in_budgets, the same on every budget of a workspace. What a
-- workspace spends is in usage_counters under the names of
-- keygate.BudgetCounterHash, added to by every charge; spending before
-- this migration is not counted there.

-- +goose Up

CREATE TABLE workspace_budgets (
    id             TEXT    NOT NULL PRIMARY KEY,
    workspace_id   TEXT    NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    reset_interval TEXT    NOT NULL CHECK (reset_interval IN ('', 'daily', 'weekly', 'monthly')),
    limit_micros   INTEGER NOT NULL CHECK (limit_micros >= 0),
    include_byok   INTEGER NOT NULL CHECK (include_byok IN (0, 1)),
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    UNIQUE (workspace_id, reset_interval)
) STRICT;

-- +goose Down

DROP TABLE workspace_budgets;
