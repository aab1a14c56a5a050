package config

// checkAugment reports augmentation settings outside their sense.
func (c *Config) checkAugment(a *Augment, bad func(string, ...any)) {
	frac := func(name string, v, hi float64) {
		if v < 0 || v > hi {
			bad("augment.%s must be in [0, %v], got %v", name, hi, v)
		}
	}
	frac("rotate", a.Rotate, 180)
	frac("shear", a.Shear, 60)
	frac("translate", a.Translate, 0.5)
	frac("brightness", a.Brightness, 1)
	frac("contrast", a.Contrast, 1)
	frac("noise", a.Noise, 1)
	frac("thickness", a.Thickness, 1)
	if len(a.Scale) > 0 && (len(a.Scale) != 2 || a.Scale[0] <= 0 || a.Scale[0] > a.Scale[1] || a.Scale[1] > 4) {
		bad("augment.scale is [lo, hi] with 0 < lo ≤ hi ≤ 4, got %v", a.Scale)
	}
	size := 0
	if len(c.Data.Shape) == 3 {
		size = min(c.Data.Shape[1], c.Data.Shape[2])
	}
	if e := a.Elastic; e != nil {
		if e.Alpha < 0 || e.Sigma <= 0 || (size > 0 && e.Sigma > float64(size)) {
			bad("augment.elastic needs alpha ≥ 0 and sigma in (0, %d] pixels, got alpha %v, sigma %v", size, e.Alpha, e.Sigma)
		}
	}
	if a.Crop < 0 || (size > 0 && 2*a.Crop >= size) {
		bad("augment.crop is a padding in pixels, 0 to %d, got %d", max(0, (size-1)/2), a.Crop)
	}
	if e := a.Erase; e != nil {
		if e.P < 0 || e.P > 1 || len(e.Area) != 2 || e.Area[0] <= 0 || e.Area[0] > e.Area[1] || e.Area[1] > 1 {
			bad("augment.erase needs p in [0, 1] and area [lo, hi] with 0 < lo ≤ hi ≤ 1, got p %v, area %v", e.P, e.Area)
		}
	}
}
