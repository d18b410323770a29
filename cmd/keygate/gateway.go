package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/keygate/keygate/gateway"
)

// openGateway loads --models and builds the gateway. A bad file stops the
// start with every problem listed.
func (m *Main) openGateway() error {
	cfg, err := gateway.LoadConfig(m.Config.Models, os.Getenv)
	if err != nil {
		return err
	}
	m.gateway = gateway.New(m.svc, cfg, gateway.Options{MaxBody: m.Config.MaxBody, Logger: m.log, Metrics: m.metrics})
	m.log.Info("gateway models loaded", "file", m.Config.Models, "models", len(cfg.Models))
	return nil
}

// reloadModelsOnSIGHUP reloads --models on each SIGHUP until ctx is done.
// A bad file keeps the configuration in use and logs why.
func (m *Main) reloadModelsOnSIGHUP(ctx context.Context) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			m.reloadModels()
		}
	}
}

// reloadModels reloads --models once.
func (m *Main) reloadModels() {
	cfg, err := gateway.LoadConfig(m.Config.Models, os.Getenv)
	if err != nil {
		m.log.Error("models file not reloaded: keeping the models in use", "file", m.Config.Models, "err", err)
		return
	}
	m.gateway.SetConfig(cfg)
	m.log.Info("gateway models reloaded", "file", m.Config.Models, "models", len(cfg.Models))
}
