package server

import (
	"testing"
	"time"

	"github.com/keygate/keygate"
)

func TestSpendChart(t *testing.T) {
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	act := func(limit *keygate.Micros, spent ...keygate.Micros) *keygate.KeyActivity {
		a := &keygate.KeyActivity{}
		a.Key = &keygate.APIKey{Limit: limit, LimitReset: keygate.ResetDaily}
		for i, m := range spent {
			a.Days = append(a.Days, keygate.DaySpend{Day: day.AddDate(0, 0, i), Micros: m})
		}
		return a
	}
	lim := func(m keygate.Micros) *keygate.Micros { return &m }
	tests := []struct {
		name    string
		a       *keygate.KeyActivity
		heights []int
		limitY  int
		limit   string
	}{
		// The highest day tops the chart; a day with any spending shows.
		{"no-limit", act(nil, 0, 1, 500, 1000), []int{0, 1, 80, 160}, 0, ""},
		// The limit above every day tops the chart.
		{"limit-above", act(lim(4000), 1000, 2000), []int{40, 80}, 0, "daily limit $0.004"},
		// A day above the limit tops it; the line is below the top.
		{"limit-below", act(lim(500), 1000, 0), []int{160, 0}, 80, "daily limit $0.0005"},
		// A limit of 0 with nothing spent lies on the axis.
		{"zero-limit", act(lim(0), 0, 0), []int{0, 0}, chartHeight, "daily limit $0.00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := spendChart(tt.a)
			if c.Width != chartSlot*len(tt.heights) || c.Height != chartHeight || len(c.Bars) != len(tt.heights) {
				t.Fatalf("chart %dx%d with %d bars, want %dx%d with %d", c.Width, c.Height, len(c.Bars), chartSlot*len(tt.heights), chartHeight, len(tt.heights))
			}
			for i, b := range c.Bars {
				if b.H != tt.heights[i] || b.Y != chartHeight-b.H || b.X != i*chartSlot+2 {
					t.Errorf("bar %d = %+v, want height %d from the axis", i, b, tt.heights[i])
				}
			}
			if c.Limit != tt.limit || (tt.limit != "" && c.LimitY != tt.limitY) {
				t.Errorf("limit %q at y=%d, want %q at y=%d", c.Limit, c.LimitY, tt.limit, tt.limitY)
			}
		})
	}
}
