-- The settings of OpenRouter's workspace object, as in the SQLite migration
-- of the same number; the two lists are arrays here (NULL for none).

-- +goose Up

ALTER TABLE workspaces
    ADD COLUMN default_text_model                  text,
    ADD COLUMN default_image_model                 text,
    ADD COLUMN default_provider_sort               text
        CHECK (default_provider_sort IN ('price', 'throughput', 'latency', 'exacto')),
    ADD COLUMN io_logging_api_key_ids              bigint[],
    ADD COLUMN io_logging_sampling_rate            double precision NOT NULL DEFAULT 1
        CHECK (io_logging_sampling_rate >= 0.0001 AND io_logging_sampling_rate <= 1),
    ADD COLUMN is_data_discount_logging_enabled    boolean NOT NULL DEFAULT false,
    ADD COLUMN is_observability_broadcast_enabled  boolean NOT NULL DEFAULT false,
    ADD COLUMN is_observability_io_logging_enabled boolean NOT NULL DEFAULT false,
    ADD COLUMN disabled_server_tools               text[];

-- +goose Down

ALTER TABLE workspaces
    DROP COLUMN disabled_server_tools,
    DROP COLUMN is_observability_io_logging_enabled,
    DROP COLUMN is_observability_broadcast_enabled,
    DROP COLUMN is_data_discount_logging_enabled,
    DROP COLUMN io_logging_sampling_rate,
    DROP COLUMN io_logging_api_key_ids,
    DROP COLUMN default_provider_sort,
    DROP COLUMN default_image_model,
    DROP COLUMN default_text_model;
