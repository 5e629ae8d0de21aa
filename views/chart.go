package views

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Chart drawing area, in SVG user units (the SVG scales with CSS).
const (
	chartWidth   = 640
	chartHeight  = 200
	chartLeft    = 8  // left padding of the plot area
	chartRight   = 8  // right padding
	chartTop     = 12 // top padding
	chartBottom  = 22 // room for the cycle ids under the bars
	chartMaxBarW = 40
	// chartLabelMax is the most bars that still get their cycle id under them.
	chartLabelMax = 12
)

// chartBar is one bar of the deletions chart, in SVG user units.
type chartBar struct {
	X, Y, W, H float64
	LabelX     float64 // centre of the bar, for its cycle id
	Label      bool    // its cycle id is written under it
	CycleID    int64
	Deletions  int
	Class      string // "bar" or "bar bar-quarantined"
	Title      string // tooltip and accessible text of the bar
	// ShowThen marks, at ThenY, the threshold in force for that cycle
	// when it differs from the current one.
	ShowThen bool
	ThenY    float64
}

// chartLayout is the geometry of the deletions chart.
type chartLayout struct {
	Width, Height int
	BaseY         float64 // y of the x axis (zero deletions)
	PlotLeft      float64
	PlotRight     float64
	Scale         float64 // deletions at the top of the plot area
	Bars          []chartBar
	ShowThreshold bool
	ThresholdY    float64
	LabelY        float64
	Desc          string
}

// layoutChart computes the chart geometry: one bar per point, scaled to
// max(max deletions, thresholds) × 1.1 so the threshold lines and the
// tallest bar all fit with some headroom. Under the bars, every cycle id
// when few, else every k-th so that none overlap.
func layoutChart(c Chart) chartLayout {
	l := chartLayout{
		Width:     chartWidth,
		Height:    chartHeight,
		PlotLeft:  chartLeft,
		PlotRight: chartWidth - chartRight,
		BaseY:     chartHeight - chartBottom,
		LabelY:    chartHeight - 6,
	}
	plotH := l.BaseY - chartTop
	plotW := l.PlotRight - l.PlotLeft

	top := max(c.Threshold, 0)
	for _, p := range c.Points {
		top = max(top, p.Deletions, p.Threshold)
	}
	l.Scale = float64(top) * 1.1
	if l.Scale <= 0 {
		l.Scale = 1
	}
	y := func(v int) float64 { return l.BaseY - float64(v)/l.Scale*plotH }

	if c.Threshold > 0 {
		l.ShowThreshold = true
		l.ThresholdY = y(c.Threshold)
	}
	l.Desc = chartDesc(c)

	n := len(c.Points)
	if n == 0 {
		return l
	}
	every := max(1, (n+chartLabelMax-1)/chartLabelMax)
	slot := plotW / float64(n)
	w := min(slot*0.7, chartMaxBarW)
	for i, p := range c.Points {
		d := max(p.Deletions, 0)
		h := float64(d) / l.Scale * plotH
		x := l.PlotLeft + slot*float64(i) + (slot-w)/2
		b := chartBar{
			X: x, Y: l.BaseY - h, W: w, H: h,
			LabelX:    x + w/2,
			Label:     (n-1-i)%every == 0, // the newest always
			CycleID:   p.CycleID,
			Deletions: p.Deletions,
			Class:     "bar",
			Title:     fmt.Sprintf("Cycle %d: %s", p.CycleID, Plural(p.Deletions, "deletion", "deletions")),
		}
		if p.Quarantined {
			b.Class = "bar bar-quarantined"
			b.Title += " (stopped by the guard)"
		}
		if p.Threshold > 0 && p.Threshold != c.Threshold {
			b.ShowThen, b.ThenY = true, y(p.Threshold)
			b.Title += fmt.Sprintf(", threshold then %s", num(p.Threshold))
		}
		l.Bars = append(l.Bars, b)
	}
	return l
}

// chartDesc is the chart's text: every cycle's deletions, whether the
// guard stopped it, and the thresholds.
func chartDesc(c Chart) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Deletions of the last %s, oldest first: ", Plural(len(c.Points), "cycle", "cycles"))
	for i, p := range c.Points {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "cycle %d: %s", p.CycleID, num(p.Deletions))
		if p.Quarantined {
			b.WriteString(" (stopped)")
		}
		if p.Threshold > 0 && p.Threshold != c.Threshold {
			fmt.Fprintf(&b, " (threshold then %s)", num(p.Threshold))
		}
	}
	fmt.Fprintf(&b, ". Threshold now: %s", num(c.Threshold))
	if !c.Prevent {
		b.WriteString("; prevent accidental deletions is off")
	}
	b.WriteString(".")
	return b.String()
}

// coord formats an SVG coordinate rounded to two decimals.
func coord(v float64) string { return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64) }
