//! The writer: drains the recorder's queue in batches into the stores, and prunes by
//! retention; it runs beside the edge on a runtime of its own and never slows a call.
