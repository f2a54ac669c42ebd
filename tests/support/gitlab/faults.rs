//! Answers that are not GitLab's usual ones: the faults tests arm, served as GitLab or a proxy would fail.

use super::*;

pub fn serve_fault(
    mut guard: MutexGuard<'_, State>,
    request: tiny_http::Request,
    recorded: &Recorded,
    fault: Fault,
) {
    match fault {
        Fault::Status {
            status,
            content_type,
            body,
            headers,
        } => {
            drop(guard);
            let mut response = Response::new(
                status.into(),
                vec![header("Content-Type", content_type)],
                Cursor::new(body.clone()),
                Some(body.len()),
                None,
            );
            for (name, value) in &headers {
                response.add_header(header(name, value));
            }
            let _ = request.respond(response);
        }
        Fault::NoAnswer => {
            drop(guard);
            // tiny_http keeps the socket open for its reader: the client waits for an answer
            // that never comes, until its own timeout.
            drop(request.into_writer());
        }
        Fault::Garbage => {
            drop(guard);
            let mut writer = request.into_writer();
            let _ = writer.write_all(b"\x00\x15 not http at all\r\n\r\n");
            let _ = writer.flush();
        }
        Fault::ApplyThenFail(inner) => {
            let _ = real_answer(&mut guard, recorded);
            serve_fault(guard, request, recorded, *inner);
        }
        Fault::ApplyLater { after } => {
            guard.pending_effects.push((after, recorded.clone()));
            drop(guard);
            drop(request.into_writer());
        }
        Fault::EmptyObject => {
            let _ = real_answer(&mut guard, recorded);
            drop(guard);
            respond(request, Answer::json(200, json!({})));
        }
        Fault::Rewrite { from, to } => {
            let mut answer = real_answer(&mut guard, recorded);
            drop(guard);
            let mut body = Vec::with_capacity(answer.body.len());
            let mut rest = answer.body.as_slice();
            while let Some(at) = rest.windows(from.len()).position(|w| w == from.as_slice()) {
                body.extend_from_slice(&rest[..at]);
                body.extend_from_slice(&to);
                rest = &rest[at + from.len()..];
            }
            body.extend_from_slice(rest);
            answer.body = body;
            respond(request, answer);
        }
        Fault::TruncatedJson => {
            let mut answer = real_answer(&mut guard, recorded);
            drop(guard);
            let half = answer.body.len() / 2;
            answer.body.truncate(half);
            respond(request, answer);
        }
        Fault::CutBody { after } => {
            let answer = real_answer(&mut guard, recorded);
            drop(guard);
            // tiny_http keeps a connection open for the next request, so a body cannot be cut by
            // closing it: the answer is chunked, and after `after` bytes comes a chunk size that
            // is not one, which the client sees at once, as it would a reset.
            let mut writer = request.into_writer();
            let mut head = format!(
                "HTTP/1.1 {} Cut\r\nContent-Type: {}\r\nTransfer-Encoding: chunked\r\n",
                answer.status, answer.content_type
            );
            for (name, value) in &answer.headers {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            head.push_str("\r\n");
            let sent = &answer.body[..after.min(answer.body.len())];
            let mut bytes = head.into_bytes();
            if !sent.is_empty() {
                bytes.extend_from_slice(format!("{:x}\r\n", sent.len()).as_bytes());
                bytes.extend_from_slice(sent);
                bytes.extend_from_slice(b"\r\n");
            }
            bytes.extend_from_slice(b"cut here\r\n\r\n");
            let _ = writer.write_all(&bytes);
            let _ = writer.flush();
        }
        Fault::Trickle { bytes_per_sec } => {
            let answer = real_answer(&mut guard, recorded);
            drop(guard);
            std::thread::spawn(move || trickle(request, answer, bytes_per_sec));
        }
        Fault::IgnorePage => {
            let mut first = recorded.clone();
            first.query.retain(|(k, _)| k != "page");
            let mut answer = real_answer(&mut guard, &first);
            drop(guard);
            answer.headers.retain(|(k, _)| {
                !matches!(
                    k.as_str(),
                    "X-Next-Page" | "X-Prev-Page" | "X-Total" | "X-Total-Pages" | "Link"
                )
            });
            respond(request, answer);
        }
        Fault::ShiftBetweenPages { name, status } => {
            let answer = real_answer(&mut guard, recorded);
            let latest = guard
                .jobs
                .iter()
                .find(|j| j.name == name && !j.retried)
                .map(|j| j.id);
            if let Some(id) = latest {
                let new_id = guard.clone_as_new_attempt(id, status);
                if let Some(job) = guard.job_mut(new_id)
                    && status == "failed"
                {
                    job.failure_reason = Some("script_failure".into());
                }
            }
            drop(guard);
            respond(request, answer);
        }
        Fault::EndOneBetweenPages { prefix } => {
            let answer = real_answer(&mut guard, recorded);
            let first = guard
                .jobs
                .iter()
                .filter(|j| j.name.starts_with(&prefix) && j.status == "running" && !j.retried)
                .map(|j| j.id)
                .min();
            if let Some(job) = first.and_then(|id| guard.job_mut(id)) {
                job.status = "success".into();
            }
            drop(guard);
            respond(request, answer);
        }
        Fault::EchoToken { status } => {
            drop(guard);
            let token = recorded
                .header("PRIVATE-TOKEN")
                .or_else(|| recorded.header("JOB-TOKEN"))
                .map(str::to_string)
                .or_else(|| {
                    recorded
                        .query
                        .iter()
                        .find(|(k, _)| k == "private_token" || k == "job_token")
                        .map(|(_, v)| v.clone())
                })
                .unwrap_or_default();
            let answer = if status >= 500 {
                Answer {
                    status,
                    content_type: "text/html",
                    body: format!(
                        "<html><body><h1>{status} Proxy Error</h1><p>while forwarding {} {}?{} with PRIVATE-TOKEN: {token}</p></body></html>",
                        recorded.method,
                        recorded.path,
                        recorded
                            .query
                            .iter()
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect::<Vec<_>>()
                            .join("&")
                    )
                    .into_bytes(),
                    headers: Vec::new(),
                }
            } else {
                Answer::message(
                    status,
                    &format!("{status} Unauthorized - token {token} is not valid"),
                )
            };
            respond(request, answer);
        }
    }
}

/// Sends `answer` slowly, on its own thread: the head at once, then the body a byte at a time.
pub fn trickle(request: tiny_http::Request, answer: Answer, bytes_per_sec: u32) {
    let mut writer = request.into_writer();
    let mut head = format!(
        "HTTP/1.1 {} Trickle\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        answer.status,
        answer.content_type,
        answer.body.len()
    );
    for (name, value) in &answer.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    if writer
        .write_all(head.as_bytes())
        .and_then(|()| writer.flush())
        .is_err()
    {
        return;
    }
    let pause = std::time::Duration::from_secs_f64(1.0 / f64::from(bytes_per_sec.max(1)));
    for byte in &answer.body {
        std::thread::sleep(pause);
        if writer
            .write_all(&[*byte])
            .and_then(|()| writer.flush())
            .is_err()
        {
            return;
        }
    }
}
