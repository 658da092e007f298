//! The service's DICOM node (dicom-ul): answers C-ECHO and accepts C-STORE of CR, DX and
//! Secondary Capture images. Each received image goes through the same worker pool as the HTTP
//! API; its answer (the JSON of `boneage predict`) and its report (HTML, PDF) are written to the
//! output folder, named by the SOP Instance UID; with a destination (`dicom_send`) the report
//! also goes back to PACS as an Encapsulated PDF in the same study. One thread per association, at most
//! `max_associations` at once (more are closed at once); a peer that stalls is dropped after
//! the read timeout; an association that breaks the protocol is aborted; none of these takes
//! the node down.

use super::dicom_send::{command_bytes, implicit, source_fields, Destination, Outgoing, Sender};
use super::worker::{Job, Pool, Refused};
use boneage_imaging::io::write_atomic;
use boneage_pipeline::Given;
use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};
use dicom_transfer_syntax_registry::{TransferSyntaxIndex, TransferSyntaxRegistry};
use dicom_ul::association::server::ServerAssociationOptions;
use dicom_ul::pdu::{PDataValue, PDataValueType, Pdu};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How the DICOM node runs.
#[derive(Clone)]
pub struct DicomConfig {
    /// Address to listen on.
    pub addr: SocketAddr,
    /// This node's AE title (calling peers must address it).
    pub ae_title: String,
    /// Where answers and reports go.
    pub out: PathBuf,
    /// Associations served at once.
    pub max_associations: usize,
    /// A peer silent this long is dropped.
    pub read_timeout: Duration,
    /// Longest an assessment may take, waiting for a worker included.
    pub timeout: Duration,
    /// Where each report is stored back (Encapsulated PDF), if anywhere.
    pub send: Option<Destination>,
}

/// The storage SOP classes accepted: CR, DX (for presentation and for processing), Secondary
/// Capture.
const STORAGE: [&str; 4] = [
    uids::COMPUTED_RADIOGRAPHY_IMAGE_STORAGE,
    uids::DIGITAL_X_RAY_IMAGE_STORAGE_FOR_PRESENTATION,
    uids::DIGITAL_X_RAY_IMAGE_STORAGE_FOR_PROCESSING,
    uids::SECONDARY_CAPTURE_IMAGE_STORAGE,
];

/// DIMSE status: success; out of resources; cannot understand; refused (SOP class not
/// supported).
const SUCCESS: u16 = 0x0000;
const OUT_OF_RESOURCES: u16 = 0xA700;
const CANNOT_UNDERSTAND: u16 = 0xC000;

/// Binds and serves in background threads; returns the address bound.
pub fn start(config: DicomConfig, pool: Arc<Pool>) -> anyhow::Result<SocketAddr> {
    std::fs::create_dir_all(&config.out)
        .map_err(|e| anyhow::anyhow!("{}: cannot create: {e}", config.out.display()))?;
    let listener = TcpListener::bind(config.addr)
        .map_err(|e| anyhow::anyhow!("serve: cannot listen for DICOM on {}: {e}", config.addr))?;
    let addr = listener.local_addr()?;
    let sender = match &config.send {
        Some(to) => Some(Arc::new(Sender::start(
            to.clone(),
            config.ae_title.clone(),
            config.out.clone(),
            config.read_timeout,
        )?)),
        None => None,
    };
    let active = Arc::new(AtomicUsize::new(0));
    std::thread::Builder::new()
        .name("dicom-listen".into())
        .spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                if active.load(Ordering::SeqCst) >= config.max_associations {
                    eprintln!(
                        "dicom: association refused: {} already open",
                        config.max_associations
                    );
                    drop(stream);
                    continue;
                }
                active.fetch_add(1, Ordering::SeqCst);
                let (config, pool, active, sender) =
                    (config.clone(), pool.clone(), active.clone(), sender.clone());
                let spawned = std::thread::Builder::new()
                    .name("dicom-assoc".into())
                    .spawn(move || {
                        let peer = stream.peer_addr().map_or("?".into(), |a| a.to_string());
                        if let Err(e) = serve_association(stream, &config, &pool, sender.as_deref())
                        {
                            eprintln!("dicom: association from {peer} ended: {e}");
                        }
                        active.fetch_sub(1, Ordering::SeqCst);
                    });
                if spawned.is_err() {
                    eprintln!("dicom: cannot start a thread for an association");
                }
            }
        })?;
    Ok(addr)
}

fn serve_association(
    stream: TcpStream,
    config: &DicomConfig,
    pool: &Pool,
    sender: Option<&Sender>,
) -> anyhow::Result<()> {
    stream.set_read_timeout(Some(config.read_timeout))?;
    stream.set_write_timeout(Some(config.read_timeout))?;
    let mut options = ServerAssociationOptions::new()
        .accept_called_ae_title()
        .ae_title(config.ae_title.as_str())
        .with_abstract_syntax(uids::VERIFICATION)
        .read_timeout(config.read_timeout)
        .write_timeout(config.read_timeout);
    for sop in STORAGE {
        options = options.with_abstract_syntax(sop);
    }
    // What the reader decodes (boneage_imaging::io::dicom).
    for ts in [
        uids::IMPLICIT_VR_LITTLE_ENDIAN,
        uids::EXPLICIT_VR_LITTLE_ENDIAN,
        uids::JPEG_BASELINE8_BIT,
        uids::JPEG_EXTENDED12_BIT,
        uids::JPEG_LOSSLESS_SV1,
        uids::RLE_LOSSLESS,
        uids::JPEG2000_LOSSLESS,
        uids::JPEG2000,
    ] {
        options = options.with_transfer_syntax(ts);
    }
    let mut assoc = options.establish(stream)?;
    let peer = {
        use dicom_ul::association::Association;
        assoc.peer_ae_title().to_string()
    };
    let mut command: Option<InMemDicomObject> = None;
    let (mut command_bytes, mut data_bytes) = (Vec::new(), Vec::new());
    loop {
        match assoc.receive()? {
            Pdu::PData { data } => {
                for pdv in data {
                    let pc = pdv.presentation_context_id;
                    match pdv.value_type {
                        PDataValueType::Command => {
                            command_bytes.extend_from_slice(&pdv.data);
                            if !pdv.is_last {
                                continue;
                            }
                            let cmd = read_command(&command_bytes)?;
                            command_bytes.clear();
                            let has_data = cmd
                                .get(tags::COMMAND_DATA_SET_TYPE)
                                .and_then(|e| e.to_int::<u16>().ok())
                                .is_some_and(|v| v != 0x0101);
                            if has_data {
                                command = Some(cmd);
                            } else {
                                let reply = answer(&cmd, None, "", config, pool, &peer, sender);
                                send(&mut assoc, pc, reply)?;
                            }
                        }
                        PDataValueType::Data => {
                            data_bytes.extend_from_slice(&pdv.data);
                            if !pdv.is_last {
                                continue;
                            }
                            let cmd = command
                                .take()
                                .ok_or_else(|| anyhow::anyhow!("a data set without a command"))?;
                            let ts = assoc
                                .presentation_contexts()
                                .iter()
                                .find(|c| c.id == pc)
                                .map(|c| c.transfer_syntax.clone())
                                .unwrap_or_default();
                            let reply = answer(
                                &cmd,
                                Some(std::mem::take(&mut data_bytes)),
                                &ts,
                                config,
                                pool,
                                &peer,
                                sender,
                            );
                            send(&mut assoc, pc, reply)?;
                        }
                    }
                }
            }
            Pdu::ReleaseRQ => {
                assoc.send(&Pdu::ReleaseRP)?;
                return Ok(());
            }
            Pdu::AbortRQ { .. } => return Ok(()),
            other => {
                let _ = assoc.abort();
                anyhow::bail!("unexpected PDU {other:?}");
            }
        }
    }
}

fn read_command(bytes: &[u8]) -> anyhow::Result<InMemDicomObject> {
    InMemDicomObject::read_dataset_with_ts(bytes, implicit())
        .map_err(|e| anyhow::anyhow!("a command that cannot be read: {e}"))
}

fn send(
    assoc: &mut dicom_ul::association::server::ServerAssociation<TcpStream>,
    pc: u8,
    reply: InMemDicomObject,
) -> anyhow::Result<()> {
    let data = command_bytes(reply)?;
    assoc.send(&Pdu::PData {
        data: vec![PDataValue {
            presentation_context_id: pc,
            value_type: PDataValueType::Command,
            is_last: true,
            data,
        }],
    })?;
    Ok(())
}

fn text(obj: &InMemDicomObject, tag: dicom_core::Tag) -> String {
    obj.get(tag)
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim_end_matches(['\0', ' ']).to_string())
        .unwrap_or_default()
}

/// The response to a command (and its data set, for C-STORE).
fn answer(
    cmd: &InMemDicomObject,
    data: Option<Vec<u8>>,
    ts: &str,
    config: &DicomConfig,
    pool: &Pool,
    peer: &str,
    sender: Option<&Sender>,
) -> InMemDicomObject {
    let field = cmd
        .get(tags::COMMAND_FIELD)
        .and_then(|e| e.to_int::<u16>().ok())
        .unwrap_or(0);
    let message_id = cmd
        .get(tags::MESSAGE_ID)
        .and_then(|e| e.to_int::<u16>().ok())
        .unwrap_or(0);
    let sop_class = text(cmd, tags::AFFECTED_SOP_CLASS_UID);
    let sop_instance = text(cmd, tags::AFFECTED_SOP_INSTANCE_UID);
    let (response_field, status) = match (field, data) {
        // C-ECHO-RQ
        (0x0030, _) => (0x8030, SUCCESS),
        // C-STORE-RQ
        (0x0001, Some(bytes)) => (
            0x8001,
            store(&sop_instance, bytes, ts, config, pool, peer, sender),
        ),
        (f, _) => (f | 0x8000, CANNOT_UNDERSTAND),
    };
    let mut r = InMemDicomObject::new_empty();
    r.put(DataElement::new(
        tags::AFFECTED_SOP_CLASS_UID,
        VR::UI,
        PrimitiveValue::from(sop_class.as_str()),
    ));
    r.put(DataElement::new(
        tags::COMMAND_FIELD,
        VR::US,
        PrimitiveValue::from(response_field),
    ));
    r.put(DataElement::new(
        tags::MESSAGE_ID_BEING_RESPONDED_TO,
        VR::US,
        PrimitiveValue::from(message_id),
    ));
    r.put(DataElement::new(
        tags::COMMAND_DATA_SET_TYPE,
        VR::US,
        PrimitiveValue::from(0x0101u16),
    ));
    r.put(DataElement::new(
        tags::STATUS,
        VR::US,
        PrimitiveValue::from(status),
    ));
    if !sop_instance.is_empty() {
        r.put(DataElement::new(
            tags::AFFECTED_SOP_INSTANCE_UID,
            VR::UI,
            PrimitiveValue::from(sop_instance.as_str()),
        ));
    }
    r
}

/// A UID is digits and dots, at most 64 characters: only then is it a file name.
fn uid_name(uid: &str) -> Option<&str> {
    (!uid.is_empty()
        && uid.len() <= 64
        && uid.chars().all(|c| c.is_ascii_digit() || c == '.')
        && !uid.starts_with('.'))
    .then_some(uid)
}

/// Assesses a received image and writes its answer and report; the DIMSE status.
fn store(
    sop_instance: &str,
    bytes: Vec<u8>,
    ts: &str,
    config: &DicomConfig,
    pool: &Pool,
    peer: &str,
    sender: Option<&Sender>,
) -> u16 {
    let name = match uid_name(sop_instance) {
        Some(u) => u.to_string(),
        None => match super::store::new_id() {
            Ok(id) => id,
            Err(_) => return OUT_OF_RESOURCES,
        },
    };
    // A DICOM file in memory: the received data set with a file meta group.
    let file = (|| -> anyhow::Result<(Vec<u8>, InMemDicomObject)> {
        let ts_entry = TransferSyntaxRegistry
            .get(ts)
            .ok_or_else(|| anyhow::anyhow!("transfer syntax {ts} not supported"))?;
        boneage_imaging::io::check_dicom_data_set(&bytes, ts).map_err(anyhow::Error::msg)?;
        let obj = InMemDicomObject::read_dataset_with_ts(&bytes[..], ts_entry)?;
        let source = source_fields(&obj);
        let file = obj.with_meta(FileMetaTableBuilder::new().transfer_syntax(ts))?;
        let mut out = Vec::new();
        file.write_all(&mut out)?;
        Ok((out, source))
    })();
    let (file, source) = match file {
        Ok(f) => f,
        Err(e) => {
            eprintln!("dicom: {name} from {peer}: cannot read the data set: {e}");
            return CANNOT_UNDERSTAND;
        }
    };
    let (reply, answer) = tokio::sync::oneshot::channel();
    let job = Job {
        name: format!("{name}.dcm"),
        bytes: file,
        given: Given::default(),
        tta: None,
        saliency: false,
        report: true,
        reply,
    };
    if let Err(refused) = pool.submit(job) {
        eprintln!(
            "dicom: {name} from {peer}: {}",
            match refused {
                Refused::Full => "every worker busy and the queue full",
                Refused::Closed => "shutting down",
            }
        );
        return OUT_OF_RESOURCES;
    }
    let done = match wait(answer, config.timeout) {
        Some(Ok(done)) => done,
        Some(Err(e)) => {
            eprintln!("dicom: {name} from {peer}: {}", e.message);
            let body = serde_json::json!({"image": format!("{name}.dcm"), "status": "error", "error": e.message});
            let _ = write_atomic(
                &config.out.join(format!("{name}.json")),
                format!("{body}\n").as_bytes(),
            );
            return CANNOT_UNDERSTAND;
        }
        None => {
            eprintln!("dicom: {name} from {peer}: no answer in time");
            return OUT_OF_RESOURCES;
        }
    };
    let mut written = write_atomic(
        &config.out.join(format!("{name}.json")),
        format!("{}\n", done.json).as_bytes(),
    );
    if let Some(report) = &done.report {
        written = written
            .and_then(|_| {
                write_atomic(
                    &config.out.join(format!("{name}.html")),
                    report.html.as_bytes(),
                )
            })
            .and_then(|_| write_atomic(&config.out.join(format!("{name}.pdf")), &report.pdf));
    }
    match written {
        Ok(()) => {
            eprintln!(
                "dicom: {name} from {peer}: {}",
                done.report
                    .as_ref()
                    .map_or("assessed", |r| r.headline.as_str())
            );
            if let (Some(sender), Some(report)) = (sender, done.report) {
                sender.queue(
                    Outgoing {
                        name,
                        source,
                        pdf: report.pdf,
                    },
                    &config.out,
                );
            }
            SUCCESS
        }
        Err(e) => {
            eprintln!(
                "dicom: {name}: cannot write to {}: {e}",
                config.out.display()
            );
            OUT_OF_RESOURCES
        }
    }
}

fn wait(
    answer: tokio::sync::oneshot::Receiver<Result<super::worker::Done, super::worker::JobError>>,
    timeout: Duration,
) -> Option<Result<super::worker::Done, super::worker::JobError>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .ok()?;
    runtime
        .block_on(async { tokio::time::timeout(timeout, answer).await })
        .ok()?
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_uids_become_file_names() {
        assert_eq!(uid_name("1.2.840.10008.5"), Some("1.2.840.10008.5"));
        assert_eq!(uid_name("../../etc/passwd"), None);
        assert_eq!(uid_name(""), None);
        assert_eq!(uid_name(&"1".repeat(65)), None);
    }
}
