package serve

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cnnctl/cnnctl/internal/predict"
)

// maxInputs bounds the inputs of one request.
const maxInputs = 1024

// input is one decoded request input.
type input struct {
	name   string
	pixels []uint8
	floats []float32
}

// predict answers POST …/predict: an image body, multipart files, or JSON
// {"images": [base64, …]} or {"inputs": [[normalised values], …]}.
func (s *Server) predict(w http.ResponseWriter, r *http.Request, m *Model) (int, error) {
	start := time.Now()
	top := s.opts.Top
	if v := r.URL.Query().Get("top"); v != "" {
		k, err := strconv.Atoi(v)
		if err != nil || k < 1 {
			return http.StatusBadRequest, fmt.Errorf("top must be a whole number from 1, got %q", v)
		}
		top = min(k, m.State.Net.Classes)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBody))
	if err != nil {
		return http.StatusBadRequest, err
	}
	// Counted as coming from now, while its inputs are decoded (not while
	// the body arrives, which a slow client can stretch): a batch being
	// gathered waits for it.
	t := m.batch.expect()
	defer t.drop()
	ins, code, err := s.inputs(r.Header.Get("Content-Type"), body, m)
	if err != nil {
		return code, err
	}
	if len(ins) == 0 {
		return http.StatusBadRequest, errors.New("the request holds no input")
	}
	decoded := time.Now()
	j := &job{}
	for _, in := range ins {
		if in.pixels != nil {
			j.pixels = append(j.pixels, in.pixels)
		} else {
			j.floats = append(j.floats, in.floats)
		}
	}
	res, err := t.submit(r.Context(), j)
	if err != nil {
		return http.StatusServiceUnavailable, err
	}
	// The batcher answers pixel inputs first, then float ones.
	var order []input
	for _, in := range ins {
		if in.pixels != nil {
			order = append(order, in)
		}
	}
	for _, in := range ins {
		if in.pixels == nil {
			order = append(order, in)
		}
	}
	preds := make([]predict.Prediction, len(order))
	for i, in := range order {
		preds[i] = predict.Rank(in.name, res.logits[i], m.State.Classes, top)
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return writeJSON(w, http.StatusOK, map[string]any{
		"model": m.Name, "epoch": m.State.Epoch, "predictions": preds, "batch": res.batch,
		"timing_ms": map[string]float64{"decode": ms(decoded.Sub(start)), "queue": ms(res.queue), "infer": ms(res.infer), "total": ms(time.Since(start))},
	})
}

// inputs decodes the request body by its content type.
func (s *Server) inputs(ct string, body []byte, m *Model) ([]input, int, error) {
	mt, params, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil {
		mt = ""
	}
	image := func(name string, b []byte) (input, error) {
		px, err := m.load.Load(predict.Input{Name: name, Data: b})
		return input{name: name, pixels: px}, err
	}
	switch {
	case strings.HasPrefix(mt, "image/") || mt == "application/octet-stream":
		in, err := image("body", body)
		if err != nil {
			return nil, http.StatusBadRequest, err
		}
		return []input{in}, 0, nil
	case mt == "multipart/form-data":
		mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		var ins []input
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, http.StatusBadRequest, fmt.Errorf("multipart body: %w", err)
			}
			b, err := io.ReadAll(part)
			if err != nil {
				return nil, http.StatusBadRequest, err
			}
			name := part.FileName()
			if name == "" {
				name = part.FormName()
			}
			if len(ins) == maxInputs {
				return nil, http.StatusBadRequest, fmt.Errorf("more than %d inputs in one request", maxInputs)
			}
			in, err := image(name, b)
			if err != nil {
				return nil, http.StatusBadRequest, err
			}
			ins = append(ins, in)
		}
		return ins, 0, nil
	case mt == "application/json":
		var req struct {
			Images []string    `json:"images"`
			Inputs [][]float32 `json:"inputs"`
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			return nil, http.StatusBadRequest, fmt.Errorf("JSON body: %v (expected {\"images\": [base64, …]} or {\"inputs\": [[…], …]})", err)
		}
		if len(req.Images)+len(req.Inputs) > maxInputs {
			return nil, http.StatusBadRequest, fmt.Errorf("more than %d inputs in one request", maxInputs)
		}
		var ins []input
		for i, e := range req.Images {
			b, err := base64.StdEncoding.DecodeString(e)
			if err != nil {
				return nil, http.StatusBadRequest, fmt.Errorf("images[%d] is not base64: %v", i, err)
			}
			in, err := image(fmt.Sprintf("images[%d]", i), b)
			if err != nil {
				return nil, http.StatusBadRequest, err
			}
			ins = append(ins, in)
		}
		size := m.State.Net.Input[0] * m.State.Net.Input[1] * m.State.Net.Input[2]
		for i, v := range req.Inputs {
			if len(v) != size {
				return nil, http.StatusBadRequest, fmt.Errorf("inputs[%d] has %d values; the model takes %v = %d, normalised", i, len(v), m.State.Net.Input, size)
			}
			ins = append(ins, input{name: fmt.Sprintf("inputs[%d]", i), floats: v})
		}
		return ins, 0, nil
	}
	return nil, http.StatusUnsupportedMediaType, fmt.Errorf("content type %q: send an image (image/png, image/jpeg, …), multipart/form-data files, or application/json", ct)
}
