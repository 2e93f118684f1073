//! A hello-world Lambda function: the runtime loop and an echo, nothing else. `./dev
//! bench-functions` measures every function's cold start and size against this binary.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move { Ok::<Value, Error>(event.payload) })).await
}
