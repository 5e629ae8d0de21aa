package views

import (
	"math"
	"strings"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

func TestLayoutChartScalesToThresholdAndMax(t *testing.T) {
	l := layoutChart(Chart{
		Points:    []ChartPoint{{CycleID: 1, Deletions: 100}, {CycleID: 2, Deletions: 1000, Quarantined: true}, {CycleID: 3}},
		Threshold: 500,
		Prevent:   true,
	})
	plotH := float64(chartHeight - chartBottom - chartTop)
	if got, want := l.Scale, 1100.0; !near(got, want) {
		t.Fatalf("Scale = %v, want %v", got, want)
	}
	if !l.ShowThreshold {
		t.Fatal("threshold line hidden")
	}
	if got, want := l.ThresholdY, l.BaseY-500.0/1100*plotH; !near(got, want) {
		t.Errorf("ThresholdY = %v, want %v", got, want)
	}
	if got, want := len(l.Bars), 3; got != want {
		t.Fatalf("bars = %d, want %d", got, want)
	}
	for i, want := range []float64{100.0 / 1100 * plotH, 1000.0 / 1100 * plotH, 0} {
		b := l.Bars[i]
		if !near(b.H, want) {
			t.Errorf("bar %d height = %v, want %v", i, b.H, want)
		}
		if !near(b.Y+b.H, l.BaseY) {
			t.Errorf("bar %d does not stand on the axis: y+h = %v, base %v", i, b.Y+b.H, l.BaseY)
		}
		if b.X < l.PlotLeft || b.X+b.W > l.PlotRight {
			t.Errorf("bar %d outside the plot: x=%v w=%v", i, b.X, b.W)
		}
	}
	if l.Bars[1].Class != "bar bar-quarantined" || l.Bars[0].Class != "bar" {
		t.Errorf("classes = %q, %q", l.Bars[0].Class, l.Bars[1].Class)
	}
	if l.Bars[0].X >= l.Bars[1].X {
		t.Error("bars not left to right, oldest first")
	}
	// The tallest bar is below the top by the 10% headroom.
	if l.Bars[1].Y <= chartTop {
		t.Errorf("tallest bar y = %v, want below the top padding", l.Bars[1].Y)
	}
	for i, b := range l.Bars {
		if !b.Label {
			t.Errorf("bar %d has no label; few bars all get theirs", i)
		}
	}
	if got, want := l.Desc, "Deletions of the last 3 cycles, oldest first: cycle 1: 100; cycle 2: 1,000 (stopped); cycle 3: 0. Threshold now: 500."; got != want {
		t.Errorf("Desc = %q, want %q", got, want)
	}
}

func TestLayoutChartThresholdAboveAllBars(t *testing.T) {
	l := layoutChart(Chart{Points: []ChartPoint{{CycleID: 1, Deletions: 10}}, Threshold: 2000, Prevent: true})
	plotH := float64(chartHeight - chartBottom - chartTop)
	if !near(l.Scale, 2200) {
		t.Fatalf("Scale = %v, want 2200", l.Scale)
	}
	// threshold/scale = 1/1.1 of the plot height above the axis.
	if got, want := l.BaseY-l.ThresholdY, plotH/1.1; !near(got, want) {
		t.Errorf("threshold height = %v, want %v", got, want)
	}
	if !strings.Contains(l.Desc, "Threshold now: 2,000.") {
		t.Errorf("Desc = %q, want the threshold", l.Desc)
	}
}

func TestLayoutChartManyBarsAndEdgeCases(t *testing.T) {
	var pts []ChartPoint
	for i := range 20 {
		pts = append(pts, ChartPoint{CycleID: int64(i + 1), Deletions: i})
	}
	l := layoutChart(Chart{Points: pts, Threshold: 500})
	labels := 0
	for _, b := range l.Bars {
		if b.Label {
			labels++
		}
	}
	if labels < 5 || labels > chartLabelMax || !l.Bars[19].Label {
		t.Errorf("20 bars: %d labels, want every other one at most %d, the newest labelled", labels, chartLabelMax)
	}
	if !strings.Contains(l.Desc, "cycle 20: 19") {
		t.Errorf("Desc = %q, want every cycle's number", l.Desc)
	}
	if last := l.Bars[19]; last.X+last.W > l.PlotRight+1e-9 {
		t.Errorf("last bar overflows: %v > %v", last.X+last.W, l.PlotRight)
	}
	if !strings.Contains(l.Desc, "off") {
		t.Errorf("prevention off not said: %q", l.Desc)
	}

	// No threshold, no deletions: no division by zero, no line.
	l = layoutChart(Chart{Points: []ChartPoint{{CycleID: 1}}, Prevent: true})
	if l.ShowThreshold || math.IsNaN(l.Bars[0].H) || l.Bars[0].H != 0 {
		t.Errorf("zero chart: threshold %v, height %v", l.ShowThreshold, l.Bars[0].H)
	}
}

func TestChartSVG(t *testing.T) {
	doc, _ := render(t, deletionsChart(Chart{Points: []ChartPoint{{CycleID: 11, Deletions: 3}, {CycleID: 12, Deletions: 812, Quarantined: true}}, Threshold: 500, Prevent: true}))
	svg := doc.Find(`svg[role="img"]`)
	if svg.Length() != 1 {
		t.Fatal("no svg role=img")
	}
	for _, ref := range strings.Fields(svg.AttrOr("aria-labelledby", "")) {
		if doc.Find("#"+ref).Length() != 1 {
			t.Errorf("aria-labelledby %q dangles", ref)
		}
	}
	if got, want := svg.Find("desc").Text(), "Deletions of the last 2 cycles, oldest first: cycle 11: 3; cycle 12: 812 (stopped). Threshold now: 500."; got != want {
		t.Errorf("desc = %q, want %q", got, want)
	}
	if got := svg.Find("rect.bar").Length(); got != 2 {
		t.Errorf("bars = %d, want 2", got)
	}
	if got := svg.Find("rect.bar-quarantined").Length(); got != 1 {
		t.Errorf("quarantined bars = %d, want 1", got)
	}
	if svg.Find("line.threshold[stroke-dasharray]").Length() != 1 {
		t.Error("dashed threshold line missing")
	}
	if got := svg.Find("text.chart-label").Length(); got != 2 {
		t.Errorf("x labels = %d, want 2", got)
	}
}

// TestChartThresholdThen: a cycle measured against another threshold than
// today's shows its own, in the drawing and in the words.
func TestChartThresholdThen(t *testing.T) {
	l := layoutChart(Chart{Points: []ChartPoint{{CycleID: 1, Deletions: 60, Quarantined: true, Threshold: 50}, {CycleID: 2, Threshold: 100}},
		Threshold: 100, Prevent: true})
	if !l.Bars[0].ShowThen || l.Bars[1].ShowThen {
		t.Errorf("threshold then shown: %v, %v; want on the first bar only", l.Bars[0].ShowThen, l.Bars[1].ShowThen)
	}
	if !strings.Contains(l.Desc, "cycle 1: 60 (stopped) (threshold then 50)") || !strings.Contains(l.Bars[0].Title, "threshold then 50") {
		t.Errorf("desc %q, title %q", l.Desc, l.Bars[0].Title)
	}
}
