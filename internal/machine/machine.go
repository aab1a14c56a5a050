// Package machine reads what the computer has and what this process uses:
// memory, from Linux's /proc (0 where it cannot be read).
package machine

import (
	"os"
	"strconv"
	"strings"
)

// procKB reads the kB figure of a "Key: N kB" line of a /proc file.
func procKB(file, key string) int64 {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == key+":" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb
		}
	}
	return 0
}

// Memory is the machine's total memory in bytes (MemTotal).
func Memory() int64 { return procKB("/proc/meminfo", "MemTotal") << 10 }

// Budget is the memory a run may plan for by default: 80 % of the
// machine's (0 where it is unknown: no bound).
func Budget() int64 { return Memory() * 8 / 10 }

// RSS is this process's resident memory in bytes now (VmRSS), PeakRSS its
// highest so far (VmHWM).
func RSS() int64     { return procKB("/proc/self/status", "VmRSS") << 10 }
func PeakRSS() int64 { return procKB("/proc/self/status", "VmHWM") << 10 }

// MB renders bytes in megabytes, for messages.
func MB(b int64) float64 { return float64(b) / (1 << 20) }
