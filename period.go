package keygate

import "time"

// Periods holds the starts of the usage periods that contain an instant:
// the UTC day, the ISO week (Monday 00:00 UTC) and the UTC month. Usage is
// counted per period start, so a period ends exactly when the next begins.
type Periods struct {
	Day, Week, Month time.Time
}

// PeriodsAt returns the periods containing t.
func PeriodsAt(t time.Time) Periods {
	t = t.UTC()
	y, m, d := t.Date()
	day := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	// time.Weekday counts from Sunday; ISO weeks start on Monday.
	back := (int(day.Weekday()) + 6) % 7
	return Periods{
		Day:   day,
		Week:  day.AddDate(0, 0, -back),
		Month: time.Date(y, m, 1, 0, 0, 0, 0, time.UTC),
	}
}

// PeriodUsage returns the usage that a limit with reset r is measured
// against: the current period's, or all-time usage when r is ResetNone.
func (u Usage) PeriodUsage(r LimitReset, includeBYOK bool) Micros {
	var n, b Micros
	switch r {
	case ResetDaily:
		n, b = u.Daily, u.BYOKDaily
	case ResetWeekly:
		n, b = u.Weekly, u.BYOKWeekly
	case ResetMonthly:
		n, b = u.Monthly, u.BYOKMonthly
	default:
		n, b = u.Total, u.BYOKTotal
	}
	if includeBYOK {
		n += b
	}
	return n
}

// Remaining returns max(0, limit − usage in the reset period), or nil when
// limit is nil (no limit).
func Remaining(limit *Micros, r LimitReset, includeBYOK bool, u Usage) *Micros {
	if limit == nil {
		return nil
	}
	left := max(*limit-u.PeriodUsage(r, includeBYOK), 0)
	return &left
}
