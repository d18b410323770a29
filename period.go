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

// Names of the usage periods, as usage counters store them.
const (
	PeriodTotal = "total" // all-time; its Start is the Unix epoch
	PeriodDay   = "day"   // a UTC day
	PeriodWeek  = "week"  // an ISO week, from Monday 00:00 UTC
	PeriodMonth = "month" // a UTC month
)

// epoch is the Start of the all-time counter.
var epoch = time.Unix(0, 0).UTC()

// UsageCounter is one running sum of the usage counters: what a key spent
// in one period, in micro-dollars, paid (Micros) and with the user's own
// provider key (BYOKMicros). Stores keep one row per key, period and start
// and add to it; the service decides which rows a charge goes to and how
// rows make a Usage.
type UsageCounter struct {
	KeyHash            string
	Period             string    // PeriodTotal, PeriodDay, PeriodWeek or PeriodMonth
	Start              time.Time // the period's first instant, UTC
	Micros, BYOKMicros Micros
}

// Counters returns the four counters of keyHash that an instant in p
// counts in (all-time, day, week, month), with zero amounts.
func Counters(keyHash string, p Periods) [4]UsageCounter {
	return [4]UsageCounter{
		{KeyHash: keyHash, Period: PeriodTotal, Start: epoch},
		{KeyHash: keyHash, Period: PeriodDay, Start: p.Day},
		{KeyHash: keyHash, Period: PeriodWeek, Start: p.Week},
		{KeyHash: keyHash, Period: PeriodMonth, Start: p.Month},
	}
}

// FoldUsage returns the Usage that the counters rows make in the periods
// p: each row of p's day, week or month, or the all-time row, fills its
// fields; rows of other periods are ignored, and a missing row counts 0.
// When two rows name the same period, the larger sums win: counters only
// grow, so the larger is the later reading.
func FoldUsage(p Periods, rows []UsageCounter) Usage {
	var u Usage
	u.merge(p, rows)
	return u
}

// merge folds rows into u as FoldUsage does, keeping the larger of u's sum
// and a row's.
func (u *Usage) merge(p Periods, rows []UsageCounter) {
	for _, r := range rows {
		var n, b *Micros
		switch {
		case r.Period == PeriodTotal:
			n, b = &u.Total, &u.BYOKTotal
		case r.Period == PeriodDay && r.Start.Equal(p.Day):
			n, b = &u.Daily, &u.BYOKDaily
		case r.Period == PeriodWeek && r.Start.Equal(p.Week):
			n, b = &u.Weekly, &u.BYOKWeekly
		case r.Period == PeriodMonth && r.Start.Equal(p.Month):
			n, b = &u.Monthly, &u.BYOKMonthly
		default:
			continue
		}
		*n, *b = max(*n, r.Micros), max(*b, r.BYOKMicros)
	}
}
