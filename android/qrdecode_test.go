package android

// A minimal QR decoder for the codes QRPNG renders, so that the test can
// prove the PNG carries the provisioning JSON. No decoder is an allowed
// dependency, so this one is written for exactly our output: an undamaged,
// axis-aligned image with known scale and quiet zone, byte mode, one
// segment. It reads every module from the pixels, the format information,
// unmasks, walks the data in the standard zigzag, de-interleaves the blocks
// (error correction level M) and parses the segment. It corrects no
// errors: on our own clean output none are expected, and any would show as
// a mismatch.

import (
	"bytes"
	"fmt"
	"image/png"
)

// readModules samples the centre of every module of a PNG from QRPNG.
func readModules(data []byte) ([][]bool, error) {
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	b := img.Bounds()
	if b.Dx() != b.Dy() || b.Dx()%QRScale != 0 {
		return nil, fmt.Errorf("image %v is not a square of %d-pixel modules", b, QRScale)
	}
	n := b.Dx()/QRScale - 2*QRQuietZone
	if n < 21 || (n-17)%4 != 0 {
		return nil, fmt.Errorf("%d modules is no QR version", n)
	}
	dark := func(x, y int) bool {
		r, _, _, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
		return r < 0x8000
	}
	// The quiet zone must be light.
	for i := 0; i < b.Dx(); i++ {
		if dark(i, QRScale/2) || dark(QRScale/2, i) {
			return nil, fmt.Errorf("quiet zone is not light at %d", i)
		}
	}
	m := make([][]bool, n)
	for y := range n {
		m[y] = make([]bool, n)
		for x := range n {
			m[y][x] = dark((x+QRQuietZone)*QRScale+QRScale/2, (y+QRQuietZone)*QRScale+QRScale/2)
		}
	}
	return m, nil
}

// Error correction level M, by version: codewords per block and blocks.
var (
	eccPerBlockM = [41]int{0, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26, 26, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28}
	blocksM      = [41]int{0, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16, 17, 17, 18, 20, 21, 23, 25, 26, 28, 29, 31, 33, 35, 37, 38, 40, 43, 45, 47, 49}
)

func alignmentPositions(ver int) []int {
	if ver == 1 {
		return nil
	}
	num := ver/7 + 2
	step := 26
	if ver != 32 {
		step = (ver*4 + num*2 + 1) / (num*2 - 2) * 2
	}
	pos := make([]int, num)
	pos[0] = 6
	for i, p := num-1, ver*4+10; i >= 1; i, p = i-1, p-step {
		pos[i] = p
	}
	return pos
}

func rawDataModules(ver int) int {
	r := (16*ver+128)*ver + 64
	if ver >= 2 {
		num := ver/7 + 2
		r -= (25*num-10)*num - 55
		if ver >= 7 {
			r -= 36
		}
	}
	return r
}

// functionModules marks finder patterns with separators and format areas,
// timing patterns, alignment patterns, version information and the dark
// module: everything that is not data.
func functionModules(n, ver int) [][]bool {
	f := make([][]bool, n)
	for i := range f {
		f[i] = make([]bool, n)
	}
	rect := func(x0, y0, w, h int) {
		for y := y0; y < y0+h; y++ {
			for x := x0; x < x0+w; x++ {
				f[y][x] = true
			}
		}
	}
	rect(0, 0, 9, 9)
	rect(n-8, 0, 8, 9)
	rect(0, n-8, 9, 8)
	rect(6, 0, 1, n)
	rect(0, 6, n, 1)
	pos := alignmentPositions(ver)
	for i, ay := range pos {
		for j, ax := range pos {
			first, last := 0, len(pos)-1
			if (i == first && j == first) || (i == first && j == last) || (i == last && j == first) {
				continue
			}
			rect(ax-2, ay-2, 5, 5)
		}
	}
	if ver >= 7 {
		rect(n-11, 0, 3, 6)
		rect(0, n-11, 6, 3)
	}
	return f
}

func maskBit(mask, y, x int) bool {
	switch mask {
	case 0:
		return (y+x)%2 == 0
	case 1:
		return y%2 == 0
	case 2:
		return x%3 == 0
	case 3:
		return (y+x)%3 == 0
	case 4:
		return (y/2+x/3)%2 == 0
	case 5:
		return (y*x)%2+(y*x)%3 == 0
	case 6:
		return ((y*x)%2+(y*x)%3)%2 == 0
	default:
		return ((y+x)%2+(y*x)%3)%2 == 0
	}
}

// decodeQR decodes a byte-mode, level-M symbol from its modules.
func decodeQR(m [][]bool) ([]byte, error) {
	n := len(m)
	ver := (n - 17) / 4
	// Format information, first copy, most significant bit first.
	var format int
	read := func(x, y int) {
		format <<= 1
		if m[y][x] {
			format |= 1
		}
	}
	for x := 0; x <= 5; x++ {
		read(x, 8)
	}
	read(7, 8)
	read(8, 8)
	read(8, 7)
	for y := 5; y >= 0; y-- {
		read(8, y)
	}
	format ^= 0x5412
	if level := format >> 13; level != 0 { // 00 is M
		return nil, fmt.Errorf("error correction level bits %02b, want M (00)", level)
	}
	mask := (format >> 10) & 7

	fn := functionModules(n, ver)
	var bits []bool
	upward := true
	for right := n - 1; right >= 1; right -= 2 {
		if right == 6 {
			right = 5
		}
		for i := range n {
			y := i
			if upward {
				y = n - 1 - i
			}
			for _, x := range []int{right, right - 1} {
				if !fn[y][x] {
					bits = append(bits, m[y][x] != maskBit(mask, y, x))
				}
			}
		}
		upward = !upward
	}
	if len(bits) != rawDataModules(ver) {
		return nil, fmt.Errorf("read %d data modules, version %d has %d", len(bits), ver, rawDataModules(ver))
	}
	codewords := make([]byte, len(bits)/8)
	for i := range codewords {
		for _, b := range bits[i*8 : i*8+8] {
			codewords[i] <<= 1
			if b {
				codewords[i] |= 1
			}
		}
	}
	// De-interleave the data codewords: short blocks first, each of the
	// long ones one data codeword longer.
	blocks, ecc := blocksM[ver], eccPerBlockM[ver]
	total := len(codewords)
	short := blocks - total%blocks
	shortData := total/blocks - ecc
	data := make([][]byte, blocks)
	k := 0
	for i := 0; i <= shortData; i++ {
		for b := range blocks {
			if i == shortData && b < short {
				continue
			}
			data[b] = append(data[b], codewords[k])
			k++
		}
	}
	stream := bytes.Join(data, nil)

	// One byte-mode segment.
	r := bitReader{data: stream}
	if mode := r.read(4); mode != 0b0100 {
		return nil, fmt.Errorf("mode %04b, want byte mode", mode)
	}
	countBits := 8
	if ver >= 10 {
		countBits = 16
	}
	count := r.read(countBits)
	if count*8 > len(stream)*8-r.pos {
		return nil, fmt.Errorf("segment of %d bytes overruns the data", count)
	}
	out := make([]byte, count)
	for i := range out {
		out[i] = byte(r.read(8))
	}
	return out, nil
}

type bitReader struct {
	data []byte
	pos  int
}

func (r *bitReader) read(n int) int {
	v := 0
	for range n {
		bit := 0
		if r.pos/8 < len(r.data) {
			bit = int(r.data[r.pos/8]>>(7-r.pos%8)) & 1
		}
		v = v<<1 | bit
		r.pos++
	}
	return v
}
