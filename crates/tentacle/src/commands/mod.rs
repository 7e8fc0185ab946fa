pub mod apply;
pub mod bench;
pub mod db;
pub mod demo;
pub mod run;
pub mod sandbox;
pub mod serve;
pub mod token;
