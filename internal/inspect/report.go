package inspect

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html/template"
	"image/png"
	"math"
	"slices"

	"github.com/cnnctl/cnnctl/internal/model"
)

// Figure is one picture of a report and the file it is written to.
type Figure struct {
	File    string // "filters.png", "feature-maps-conv1.png", …
	Caption string
	Picture *Picture
}

// PNG encodes the figure's picture.
func (f Figure) PNG() ([]byte, error) {
	var b bytes.Buffer
	err := png.Encode(&b, f.Picture.Image)
	return b.Bytes(), err
}

// Report is everything visualize draws for a model (and an input).
type Report struct {
	Model   string // the checkpoint, as named by the user
	Input   string // the input file; "" for a model-only report
	Classes []string
	Look    *Look // nil without an input
	Summary model.NetworkSummary
	Figures []Figure
}

// NewReport draws the filters and, given a look at an input, its feature
// maps at every convolution and pooling, its saliency map and Grad-CAM.
func NewReport(n *model.Network, classes []string, lk *Look) (*Report, error) {
	r := &Report{Classes: classes, Look: lk, Summary: n.Summarize(1, 1)}
	if f, err := Filters(n); err == nil {
		r.Figures = append(r.Figures, Figure{"filters.png", "The learned kernels of the first convolution, and the kernel norms of the deeper ones", f})
	}
	if lk == nil {
		return r, nil
	}
	label := r.Label(lk.Class)
	r.Figures = append(r.Figures, Figure{"saliency.png", fmt.Sprintf("Which input pixels the score of %q is most sensitive to", label), Saliency(n, lk, label)})
	if f, err := GradCAM(n, lk, label); err == nil {
		r.Figures = append(r.Figures, Figure{"gradcam.png", fmt.Sprintf("Where the last convolution found the evidence for %q", label), f})
	}
	for _, i := range MapLayers(n) {
		f, err := FeatureMaps(n, lk, i)
		if err != nil {
			return nil, err
		}
		id := n.Layers[i].ID
		r.Figures = append(r.Figures, Figure{"feature-maps-" + id + ".png", fmt.Sprintf("What layer %s (%s) makes of the input", id, n.Layers[i].Describe()), f})
	}
	return r, nil
}

// Label names class i.
func (r *Report) Label(i int) string {
	if i < len(r.Classes) {
		return r.Classes[i]
	}
	return fmt.Sprint(i)
}

// HTML renders the report as one self-contained page: the images inline,
// no scripts, no external resources.
func (r *Report) HTML() ([]byte, error) {
	type img struct {
		File, Caption string
		Src           template.URL
		W, H          int
	}
	type prob struct {
		Label string
		P     float64
		Bar   int // px
	}
	v := struct {
		*Report
		Images []img
		Top    []prob
		Class  string
	}{Report: r}
	for _, f := range r.Figures {
		b, err := f.PNG()
		if err != nil {
			return nil, err
		}
		bd := f.Picture.Image.Bounds()
		v.Images = append(v.Images, img{f.File, f.Caption, template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(b)), bd.Dx(), bd.Dy()})
	}
	if lk := r.Look; lk != nil {
		v.Class = r.Label(lk.Class)
		order := make([]int, len(lk.Probs))
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int {
			switch {
			case lk.Probs[a] > lk.Probs[b]:
				return -1
			case lk.Probs[a] < lk.Probs[b]:
				return 1
			}
			return 0
		})
		for _, i := range order[:min(5, len(order))] {
			v.Top = append(v.Top, prob{r.Label(i), lk.Probs[i], int(math.Round(200 * lk.Probs[i]))})
		}
	}
	var b bytes.Buffer
	err := page.Execute(&b, v)
	return b.Bytes(), err
}

var page = template.Must(template.New("page").Funcs(template.FuncMap{
	"shape": model.ShapeString,
	"mega":  func(x int64) string { return fmt.Sprintf("%.2f", float64(x)/1e6) },
	"pct":   func(p float64) string { return fmt.Sprintf("%.1f", 100*p) },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>cnnctl visualize — {{.Model}}</title>
<style>
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 2em; }
table { border-collapse: collapse; font-size: 13px; }
td, th { padding: 2px 8px; text-align: right; border-bottom: 1px solid #ddd; }
td:nth-child(-n+2), th:nth-child(-n+2) { text-align: left; }
figure { margin: 1.5em 0; overflow-x: auto; }
figcaption { color: #555; margin-bottom: .4em; }
img { image-rendering: pixelated; max-width: none; }
.bar { display: inline-block; height: .8em; background: #d9534f; vertical-align: middle; }
code { background: #f4f4f4; padding: 0 .2em; }
</style>
</head>
<body>
<h1>Inside <code>{{.Model}}</code></h1>
{{if .Look}}<p>Input <code>{{.Input}}</code>, preprocessed as <code>cnnctl predict</code> does. The network predicts
<strong id="prediction">{{.Class}}</strong>.</p>
<table id="top"><tr><th>class</th><th>probability</th><th></th></tr>
{{range .Top}}<tr><td>{{.Label}}</td><td>{{pct .P}}%</td><td style="text-align:left"><span class="bar" style="width:{{.Bar}}px"></span></td></tr>
{{end}}</table>{{end}}
<h2>Layers</h2>
<table id="summary"><tr><th>layer</th><th>type</th><th>output</th><th>parameters</th><th>MMACs</th><th>receptive field</th></tr>
<tr><td>input</td><td></td><td>{{shape .Summary.Input}}</td><td></td><td></td><td></td></tr>
{{range .Summary.Layers}}<tr><td>{{.ID}}</td><td>{{.Layer}}</td><td>{{shape .Output}}</td><td>{{.Params}}</td><td>{{mega .MACs}}</td><td>{{with .ReceptiveField}}{{index . 0}}×{{index . 1}}{{else}}all{{end}}</td></tr>
{{end}}<tr><th>total</th><th></th><th></th><th>{{.Summary.Params}}</th><th>{{mega .Summary.MACs}}</th><th></th></tr>
</table>
{{range .Images}}<figure>
<figcaption>{{.Caption}} <small>({{.File}})</small></figcaption>
<img src="{{.Src}}" width="{{.W}}" height="{{.H}}" alt="{{.File}}">
</figure>
{{end}}
</body>
</html>
`))
