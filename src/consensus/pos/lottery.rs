//! Who leads a slot. OWNER H1.
