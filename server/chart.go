package server

import (
	"fmt"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/web"
)

// The chart's size in SVG user units: one bar slot per day.
const (
	chartSlot   = 20
	chartHeight = 160
)

// spendChart draws act's daily spending: bars scaled to the largest day
// or the limit, whichever is higher, and the limit as a line.
func spendChart(act *keygate.KeyActivity) web.Chart {
	c := web.Chart{Width: chartSlot * len(act.Days), Height: chartHeight}
	top, total := keygate.Micros(0), keygate.Micros(0)
	for _, d := range act.Days {
		top, total = max(top, d.Micros), total+d.Micros
	}
	if lim := act.Key.Limit; lim != nil {
		top = max(top, *lim)
	}
	for i, d := range act.Days {
		h := 0
		if top > 0 {
			h = int(int64(d.Micros) * chartHeight / int64(top))
		}
		if d.Micros > 0 {
			h = max(h, 1)
		}
		c.Bars = append(c.Bars, web.Bar{X: i*chartSlot + 2, Y: chartHeight - h, W: chartSlot - 4, H: h,
			Title: d.Day.Format("2006-01-02") + ": " + formatUSD(d.Micros)})
	}
	if n := len(act.Days); n > 0 {
		c.First, c.Last = act.Days[0].Day.Format("2006-01-02"), act.Days[n-1].Day.Format("2006-01-02")
	}
	c.Max = formatUSD(top)
	c.Summary = fmt.Sprintf("%s spent over %d days.", formatUSD(total), len(act.Days))
	if lim := act.Key.Limit; lim != nil {
		window := string(act.Key.LimitReset)
		if window == "" {
			window = "total"
		}
		c.Limit = window + " limit " + formatUSD(*lim)
		c.LimitY = chartHeight // a limit of 0 with nothing spent: on the axis
		if top > 0 {
			c.LimitY = chartHeight - int(int64(*lim)*chartHeight/int64(top))
		}
		c.Summary += " The " + c.Limit + " is drawn as a line."
	}
	return c
}
