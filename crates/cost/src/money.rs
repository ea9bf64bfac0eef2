//! Dollars: the usage a workload counted, priced at public us-east-1 list prices.
//!
//! Prices as read on 2026-11-30 (the AWS pricing pages below, cross-checked against
//! third-party summaries of them; no free tier is applied):
//! - DynamoDB on-demand (since the November 2024 cut): $0.625 per million write request units,
//!   $0.125 per million read request units — <https://aws.amazon.com/dynamodb/pricing/on-demand/>;
//! - Lambda (x86): $0.20 per million requests, $0.0000166667 per GB-second —
//!   <https://aws.amazon.com/lambda/pricing/>;
//! - API Gateway WebSocket: $1.00 per million messages (first billion, 32 KB units), $0.25 per
//!   million connection minutes — <https://aws.amazon.com/api-gateway/pricing/>;
//! - SQS standard: $0.40 per million requests (after the first million) —
//!   <https://aws.amazon.com/sqs/pricing/>.

/// Dollars per unit.
pub const WRU: f64 = 0.625e-6;
pub const RRU: f64 = 0.125e-6;
pub const LAMBDA_REQUEST: f64 = 0.20e-6;
pub const LAMBDA_GB_SECOND: f64 = 0.000_016_666_7;
pub const WS_MESSAGE: f64 = 1.00e-6;
pub const WS_CONNECTION_MINUTE: f64 = 0.25e-6;
pub const SQS_REQUEST: f64 = 0.40e-6;

/// Lambda memory: 128 MB.
pub const LAMBDA_GB: f64 = 0.125;
/// Assumed billed duration of an invocation (an average over the functions: a handler does one
/// to a few DynamoDB round trips of ~5–20 ms and posts; not measured on AWS).
pub const LAMBDA_SECONDS: f64 = 0.1;

/// Billed quantities, per whatever unit the caller chose (a completed task, a player-hour).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Bill {
    pub wcu: f64,
    pub rcu: f64,
    pub invocations: f64,
    pub ws_messages: f64,
    pub connection_minutes: f64,
    pub sqs_requests: f64,
}

impl Bill {
    /// Each line's dollars: (line, dollars).
    pub fn lines(&self) -> [(&'static str, f64); 7] {
        [
            ("DynamoDB writes", self.wcu * WRU),
            ("DynamoDB reads", self.rcu * RRU),
            ("Lambda requests", self.invocations * LAMBDA_REQUEST),
            (
                "Lambda GB-seconds",
                self.invocations * LAMBDA_GB * LAMBDA_SECONDS * LAMBDA_GB_SECOND,
            ),
            ("WebSocket messages", self.ws_messages * WS_MESSAGE),
            (
                "WebSocket conn. minutes",
                self.connection_minutes * WS_CONNECTION_MINUTE,
            ),
            ("SQS requests", self.sqs_requests * SQS_REQUEST),
        ]
    }

    pub fn dollars(&self) -> f64 {
        self.lines().iter().map(|(_, d)| d).sum()
    }

    /// The same bill times `k`.
    pub fn times(&self, k: f64) -> Bill {
        Bill {
            wcu: self.wcu * k,
            rcu: self.rcu * k,
            invocations: self.invocations * k,
            ws_messages: self.ws_messages * k,
            connection_minutes: self.connection_minutes * k,
            sqs_requests: self.sqs_requests * k,
        }
    }
}

/// Per completed task before the persistence seam (docs/performance.md as it was: 11.20 WCU
/// plus 1.80 index WCU with `TransactWriteItems`, 3.71 RCU, 1.21 invocations, no wake queue).
/// Messages and connection minutes were not counted then; the protocol is the same, so the
/// caller passes today's.
pub fn before(ws_messages: f64, connection_minutes: f64) -> Bill {
    Bill {
        wcu: 11.20 + 1.80,
        rcu: 3.71,
        invocations: 1.21,
        ws_messages,
        connection_minutes,
        sqs_requests: 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_million_write_units_cost_the_list_price() {
        let bill = Bill {
            wcu: 1e6,
            ..Bill::default()
        };
        assert!((bill.dollars() - 0.625).abs() < 1e-9);
        let lambda = Bill {
            invocations: 1e6,
            ..Bill::default()
        };
        // $0.20 + 1e6 × 0.125 GB × 0.1 s × $0.0000166667
        assert!((lambda.dollars() - (0.20 + 0.208_333_75)).abs() < 1e-6);
    }
}
