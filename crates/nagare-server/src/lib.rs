//! nagare-server
