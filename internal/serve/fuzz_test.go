package serve

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzRequest: any body under any content type gets an answer — the
// classes, or a 4xx with a JSON error — never a panic or a 5xx.
func FuzzRequest(f *testing.F) {
	f.Add("image/png", drawing(&testing.T{}, true))
	f.Add("application/json", []byte(`{"images": ["iVBORw0KGgo="], "inputs": [[0.5]]}`))
	f.Add("multipart/form-data; boundary=x", []byte("--x\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.png\"\r\n\r\nnot a png\r\n--x--\r\n"))
	f.Add("image/png", hugePNG())
	srv, err := New(Options{MaxBody: 1 << 20}, []string{"m"}, map[string]string{"m": tinyModel(&testing.T{})})
	if err != nil {
		f.Fatal(err)
	}
	defer srv.Close()
	h := srv.Handler()
	f.Fuzz(func(t *testing.T, ctype string, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/v1/predict?top=2", bytes.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%q, %d bytes: %d %s", ctype, len(body), w.Code, w.Body.String())
		}
	})
}
