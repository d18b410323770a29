-- The settings of OpenRouter's workspace object (components
-- CreateWorkspaceRequest, UpdateWorkspaceRequest and Workspace), stored so
-- that what POST and PATCH /workspaces accept is what the workspace reports.
-- keygate routes no requests, so none of them changes what it does.
--
-- Defaults are what a workspace reports that never set them, existing rows
-- included: no default models or provider sort, every key and every request
-- logged when I/O logging is on (sampling rate 1), every switch off, no
-- disabled server tools. The two lists are JSON arrays, NULL for none (for
-- io_logging_api_key_ids, OpenRouter's "Null means all keys are logged").

-- +goose Up

ALTER TABLE workspaces ADD COLUMN default_text_model TEXT;
ALTER TABLE workspaces ADD COLUMN default_image_model TEXT;
ALTER TABLE workspaces ADD COLUMN default_provider_sort TEXT
    CHECK (default_provider_sort IN ('price', 'throughput', 'latency', 'exacto'));
ALTER TABLE workspaces ADD COLUMN io_logging_api_key_ids TEXT;
ALTER TABLE workspaces ADD COLUMN io_logging_sampling_rate REAL NOT NULL DEFAULT 1
    CHECK (io_logging_sampling_rate >= 0.0001 AND io_logging_sampling_rate <= 1);
ALTER TABLE workspaces ADD COLUMN is_data_discount_logging_enabled INTEGER NOT NULL DEFAULT 0
    CHECK (is_data_discount_logging_enabled IN (0, 1));
ALTER TABLE workspaces ADD COLUMN is_observability_broadcast_enabled INTEGER NOT NULL DEFAULT 0
    CHECK (is_observability_broadcast_enabled IN (0, 1));
ALTER TABLE workspaces ADD COLUMN is_observability_io_logging_enabled INTEGER NOT NULL DEFAULT 0
    CHECK (is_observability_io_logging_enabled IN (0, 1));
ALTER TABLE workspaces ADD COLUMN disabled_server_tools TEXT;

-- +goose Down

ALTER TABLE workspaces DROP COLUMN disabled_server_tools;
ALTER TABLE workspaces DROP COLUMN is_observability_io_logging_enabled;
ALTER TABLE workspaces DROP COLUMN is_observability_broadcast_enabled;
ALTER TABLE workspaces DROP COLUMN is_data_discount_logging_enabled;
ALTER TABLE workspaces DROP COLUMN io_logging_sampling_rate;
ALTER TABLE workspaces DROP COLUMN io_logging_api_key_ids;
ALTER TABLE workspaces DROP COLUMN default_provider_sort;
ALTER TABLE workspaces DROP COLUMN default_image_model;
ALTER TABLE workspaces DROP COLUMN default_text_model;
