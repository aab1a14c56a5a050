package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// The summary's figures against a hand count: LeNet-5 has 156 + 2,416 +
// 48,120 + 10,164 + 850 = 61,706 parameters and 117,600 + 240,000 + 48,000 +
// 10,080 + 840 = 416,520 multiply-adds per image; after its second pooling
// one value sees 16×16 input pixels (5; 5 + 1 = 6 after 2×2 pooling, whose
// outputs are 2 pixels apart; 6 + 4·2 = 14; 14 + 1·2 = 16). LeNet-BN has
// 431,220 parameters, as fuse reports.
func TestSummaryHandCounts(t *testing.T) {
	code, out, errOut := cnnctl(t, "summary", "-c", "../../configs/lenet5-mnist.yaml", "--json")
	if code != 0 {
		t.Fatalf("summary: %s", errOut)
	}
	var s struct {
		Params int
		MACs   int64
		Layers []struct {
			ID             string
			Params         int
			ReceptiveField []int `json:"receptive_field"`
		}
	}
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatal(err)
	}
	if s.Params != 61706 || s.MACs != 416520 {
		t.Errorf("LeNet-5: %d parameters, %d MACs; want 61706 and 416520", s.Params, s.MACs)
	}
	if rf := s.Layers[5].ReceptiveField; len(rf) != 2 || rf[0] != 16 || s.Layers[6].ReceptiveField != nil {
		t.Errorf("receptive fields: pool2 %v, flatten %v", rf, s.Layers[6].ReceptiveField)
	}
	code, out, _ = cnnctl(t, "summary", "-c", "../../configs/lenet-bn-mnist.yaml")
	if code != 0 || !strings.Contains(out, "total: 431220 parameters") || !strings.Contains(out, "conv2d 20@5×5 s1 p0") {
		t.Errorf("LeNet-BN summary:\n%s", out)
	}
	code, out, _ = cnnctl(t, "summary", "-c", "../../configs/resnet-mnist.yaml")
	if code != 0 || !strings.Contains(out, "stage2.proj") || !strings.Contains(out, "← stage1.6") {
		t.Errorf("ResNet summary:\n%s", out)
	}
	if code, _, errOut := cnnctl(t, "summary"); code != 2 || !strings.Contains(errOut, "summary needs -c CONFIG or --model CKPT") {
		t.Errorf("no arguments: %d %s", code, errOut)
	}
}
