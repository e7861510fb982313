package flowscope

// linkInfo is what a flow keeps of its first packet's link layer and IP
// version. Flows share a handful of these (the hosts and routers on a
// link), so the tracker keeps each once, in its links table, and a flow
// an index: 4 bytes a flow instead of 16.
type linkInfo struct {
	origMAC, respMAC [6]byte
	vlan             uint16
	ipVersion        uint8
	_                uint8 // plain memory: == is one comparison
}

// linkTable interns linkInfo values with reference counts.
type linkTable struct {
	ids   map[linkInfo]uint32
	infos []linkInfo
	refs  []uint32
	free  []uint32
	// The last value interned: consecutive new flows mostly share it,
	// and then need no map lookup.
	last   linkInfo
	lastID uint32
	lastOK bool
}

// ref returns the index of l, counting one more flow that holds it.
func (lt *linkTable) ref(l linkInfo) uint32 {
	if lt.lastOK && l == lt.last {
		lt.refs[lt.lastID]++
		return lt.lastID
	}
	id, ok := lt.ids[l]
	if !ok {
		if lt.ids == nil {
			lt.ids = map[linkInfo]uint32{}
		}
		if n := len(lt.free); n > 0 {
			id, lt.free = lt.free[n-1], lt.free[:n-1]
			lt.infos[id] = l
		} else {
			id = uint32(len(lt.infos))
			lt.infos = append(lt.infos, l)
			lt.refs = append(lt.refs, 0)
		}
		lt.ids[l] = id
	}
	lt.refs[id]++
	lt.last, lt.lastID, lt.lastOK = l, id, true
	return id
}

// unref drops one flow's hold on index id.
func (lt *linkTable) unref(id uint32) {
	lt.refs[id]--
	if lt.refs[id] == 0 {
		delete(lt.ids, lt.infos[id])
		lt.free = append(lt.free, id)
		if lt.lastID == id {
			lt.lastOK = false
		}
	}
}

func (lt *linkTable) get(id uint32) *linkInfo { return &lt.infos[id] }
