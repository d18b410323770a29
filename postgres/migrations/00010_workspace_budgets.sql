-- Workspace budgets (OpenRouter /workspaces/{workspace_ref}/budgets): at
-- most one per workspace and window, reset_interval '' for a lifetime
-- budget as in api_keys.limit_reset. include_byok is the workspace's
-- include_byok_in_budgets, the same on every budget of a workspace. What a
-- workspace spends is in usage_counters under the names of
-- keygate.BudgetCounterHash, added to by every charge; spending before
-- this migration is not counted there. Budget leases are rows of
-- spend_leases under the same names; a grant locks the budget's row.

-- +goose Up

CREATE TABLE workspace_budgets (
    id             text        COLLATE "C" NOT NULL PRIMARY KEY,
    workspace_id   text        COLLATE "C" NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    reset_interval text        NOT NULL CHECK (reset_interval IN ('', 'daily', 'weekly', 'monthly')),
    limit_micros   bigint      NOT NULL CHECK (limit_micros >= 0),
    include_byok   boolean     NOT NULL,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    UNIQUE (workspace_id, reset_interval)
);

-- +goose Down

DROP TABLE workspace_budgets;
