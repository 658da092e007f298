//! The DICOM node's way back to PACS: each assessed image's report, as an Encapsulated PDF in
//! the image's study (a new series, new UIDs, the patient and study fields copied), is stored
//! to a configured destination with C-STORE (dicom-ul). One sender thread works through a
//! bounded queue; a destination that cannot be reached is tried again after 5 and 30 seconds.
//! Whatever happens to the sending, the Encapsulated PDF is also written to the output folder
//! beside the answer (`<SOPInstanceUID>.report.dcm`), so a report is never lost: it can be sent
//! again by hand (e.g. dcmtk's `storescu`).

use boneage_imaging::io::write_atomic;
use dicom_core::value::DataSetSequence;
use dicom_core::{DataElement, Length, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};
use dicom_transfer_syntax_registry::{TransferSyntaxIndex, TransferSyntaxRegistry};
use dicom_ul::association::client::ClientAssociationOptions;
use dicom_ul::pdu::{PDataValue, PDataValueType, Pdu, PresentationContextResultReason};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::time::Duration;

/// Where results are stored: `AE@host:port`.
#[derive(Clone, Debug, PartialEq)]
pub struct Destination {
    /// The destination's AE title (the called AE title).
    pub ae_title: String,
    /// `host:port`.
    pub address: String,
}

impl FromStr for Destination {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{s:?}: give the destination as AE@host:port, e.g. PACS@10.0.0.5:104");
        let (ae, address) = s.split_once('@').ok_or_else(bad)?;
        let (host, port) = address.rsplit_once(':').ok_or_else(bad)?;
        if ae.is_empty() || ae.len() > 16 || !ae.chars().all(|c| c.is_ascii_graphic()) {
            return Err(format!(
                "{s:?}: the AE title must be 1 to 16 printable characters without spaces"
            ));
        }
        if host.is_empty() || port.parse::<u16>().map_or(true, |p| p == 0) {
            return Err(bad());
        }
        Ok(Destination {
            ae_title: ae.to_string(),
            address: address.to_string(),
        })
    }
}

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.ae_title, self.address)
    }
}

/// A report to store back.
pub struct Outgoing {
    /// The received image's name in the output folder (its SOP Instance UID).
    pub name: String,
    /// The received image's data set (the patient and study fields are copied from it).
    pub source: InMemDicomObject,
    /// The report's PDF.
    pub pdf: Vec<u8>,
}

/// The sender: a queue in front of one thread.
pub struct Sender {
    queue: SyncSender<Outgoing>,
    destination: Destination,
}

/// Reports that may wait for the sender.
const QUEUE: usize = 64;
/// Waits before the second and third tries.
const RETRIES: [Duration; 2] = [Duration::from_secs(5), Duration::from_secs(30)];

impl Sender {
    /// Starts the sender thread. `calling_ae`: this node's AE title; `out`: the output folder.
    pub fn start(
        destination: Destination,
        calling_ae: String,
        out: PathBuf,
        timeout: Duration,
    ) -> anyhow::Result<Sender> {
        let (queue, jobs) = mpsc::sync_channel::<Outgoing>(QUEUE);
        let to = destination.clone();
        std::thread::Builder::new()
            .name("dicom-send".into())
            .spawn(move || {
                for job in jobs {
                    send_one(&job, &to, &calling_ae, &out, timeout);
                }
            })?;
        Ok(Sender { queue, destination })
    }

    /// Queues a report; when the queue is full it is only written to the output folder.
    pub fn queue(&self, job: Outgoing, out: &Path) {
        let name = job.name.clone();
        match self.queue.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(job)) | Err(TrySendError::Disconnected(job)) => {
                eprintln!(
                    "dicom: {name}: {QUEUE} reports already wait for {}; this one is kept in {} only",
                    self.destination,
                    out.display()
                );
                let _ = write_report_file(&job, out);
            }
        }
    }
}

fn write_report_file(job: &Outgoing, out: &Path) -> anyhow::Result<(String, Vec<u8>)> {
    let (uid, obj) = encapsulated_pdf(&job.source, &job.pdf, now())?;
    let mut dataset = Vec::new();
    obj.write_dataset_with_ts(&mut dataset, explicit())?;
    let file = obj
        .with_meta(FileMetaTableBuilder::new().transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN))?;
    let mut bytes = Vec::new();
    file.write_all(&mut bytes)?;
    let path = out.join(format!("{}.report.dcm", job.name));
    write_atomic(&path, &bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok((uid, dataset))
}

fn send_one(job: &Outgoing, to: &Destination, calling_ae: &str, out: &Path, timeout: Duration) {
    let (uid, dataset) = match write_report_file(job, out) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("dicom: {}: cannot make the report's DICOM: {e}", job.name);
            return;
        }
    };
    for attempt in 0..=RETRIES.len() {
        if attempt > 0 {
            std::thread::sleep(RETRIES[attempt - 1]);
        }
        match store_scu(to, calling_ae, &uid, &dataset, timeout) {
            Ok(Stored::Done(status)) => {
                eprintln!(
                    "dicom: {}: report stored to {to} as {uid}{}",
                    job.name,
                    if status == 0 {
                        String::new()
                    } else {
                        format!(" (warning status {status:#06x})")
                    }
                );
                return;
            }
            Ok(Stored::Refused(status)) => {
                eprintln!(
                    "dicom: {}: {to} refused the report (status {status:#06x}); it is kept as {}",
                    job.name,
                    out.join(format!("{}.report.dcm", job.name)).display()
                );
                return;
            }
            Err(e) => eprintln!(
                "dicom: {}: cannot store the report to {to} (try {} of {}): {e}",
                job.name,
                attempt + 1,
                RETRIES.len() + 1
            ),
        }
    }
    eprintln!(
        "dicom: {}: gave up sending to {to}; the report is kept as {}",
        job.name,
        out.join(format!("{}.report.dcm", job.name)).display()
    );
}

enum Stored {
    /// Success (0) or a warning (0x0001, 0xBxxx).
    Done(u16),
    /// A failure status.
    Refused(u16),
}

/// One association: C-STORE of the Encapsulated PDF, then release.
fn store_scu(
    to: &Destination,
    calling_ae: &str,
    sop_instance: &str,
    dataset: &[u8],
    timeout: Duration,
) -> anyhow::Result<Stored> {
    let mut assoc = ClientAssociationOptions::new()
        .calling_ae_title(calling_ae)
        .called_ae_title(to.ae_title.as_str())
        .with_presentation_context(
            uids::ENCAPSULATED_PDF_STORAGE,
            vec![uids::EXPLICIT_VR_LITTLE_ENDIAN],
        )
        .connection_timeout(timeout)
        .read_timeout(timeout)
        .write_timeout(timeout)
        .establish(to.address.as_str())?;
    let pc = assoc
        .presentation_contexts()
        .iter()
        .find(|c| c.reason == PresentationContextResultReason::Acceptance)
        .map(|c| c.id);
    let Some(pc) = pc else {
        let _ = assoc.abort();
        anyhow::bail!("it does not accept Encapsulated PDF Storage");
    };
    let mut rq = InMemDicomObject::new_empty();
    put_str(
        &mut rq,
        tags::AFFECTED_SOP_CLASS_UID,
        VR::UI,
        uids::ENCAPSULATED_PDF_STORAGE,
    );
    put_u16(&mut rq, tags::COMMAND_FIELD, 0x0001);
    put_u16(&mut rq, tags::MESSAGE_ID, 1);
    put_u16(&mut rq, tags::PRIORITY, 0);
    put_u16(&mut rq, tags::COMMAND_DATA_SET_TYPE, 0x0000);
    put_str(
        &mut rq,
        tags::AFFECTED_SOP_INSTANCE_UID,
        VR::UI,
        sop_instance,
    );
    assoc.send(&Pdu::PData {
        data: vec![PDataValue {
            presentation_context_id: pc,
            value_type: PDataValueType::Command,
            is_last: true,
            data: command_bytes(rq)?,
        }],
    })?;
    {
        let mut writer = assoc.send_pdata(pc);
        writer.write_all(dataset)?;
        writer.finish()?;
    }
    let status = match assoc.receive()? {
        Pdu::PData { data } => {
            let mut bytes = Vec::new();
            for pdv in data {
                if pdv.value_type == PDataValueType::Command {
                    bytes.extend_from_slice(&pdv.data);
                }
            }
            let rsp = InMemDicomObject::read_dataset_with_ts(&bytes[..], implicit())
                .map_err(|e| anyhow::anyhow!("an answer that cannot be read: {e}"))?;
            rsp.get(tags::STATUS)
                .and_then(|e| e.to_int::<u16>().ok())
                .ok_or_else(|| anyhow::anyhow!("an answer without a status"))?
        }
        Pdu::AbortRQ { .. } => anyhow::bail!("it aborted the association"),
        other => {
            let _ = assoc.abort();
            anyhow::bail!("unexpected PDU {other:?}");
        }
    };
    let _ = assoc.release();
    Ok(if status == 0 || status == 1 || status & 0xF000 == 0xB000 {
        Stored::Done(status)
    } else {
        Stored::Refused(status)
    })
}

/// A command set as it goes on the wire: implicit VR little endian, group length first.
pub(super) fn command_bytes(command: InMemDicomObject) -> anyhow::Result<Vec<u8>> {
    let mut body = Vec::new();
    command.write_dataset_with_ts(&mut body, implicit())?;
    let mut with_length = command;
    with_length.put(DataElement::new(
        tags::COMMAND_GROUP_LENGTH,
        VR::UL,
        PrimitiveValue::from(body.len() as u32),
    ));
    let mut data = Vec::new();
    with_length.write_dataset_with_ts(&mut data, implicit())?;
    Ok(data)
}

pub(super) fn implicit() -> &'static dicom_transfer_syntax_registry::TransferSyntax {
    TransferSyntaxRegistry
        .get(uids::IMPLICIT_VR_LITTLE_ENDIAN)
        .unwrap_or_else(|| unreachable!("implicit VR little endian is built in"))
}

fn explicit() -> &'static dicom_transfer_syntax_registry::TransferSyntax {
    TransferSyntaxRegistry
        .get(uids::EXPLICIT_VR_LITTLE_ENDIAN)
        .unwrap_or_else(|| unreachable!("explicit VR little endian is built in"))
}

/// A new UID: 128 random bits under the 2.25 root (ISO/IEC 9834-8).
pub fn new_uid() -> std::io::Result<String> {
    Ok(format!("2.25.{}", super::store::random_u128()?))
}

/// Now (UTC) as DICOM date and time.
fn now() -> (String, String) {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let (y, m, d) = boneage_core::age::civil_from_days(secs.div_euclid(86_400));
    let t = secs.rem_euclid(86_400);
    (
        format!("{y:04}{m:02}{d:02}"),
        format!("{:02}{:02}{:02}", t / 3600, t / 60 % 60, t % 60),
    )
}

/// Patient and study fields copied from the received image into the report, as they are.
const COPIED: [Tag; 12] = [
    tags::SPECIFIC_CHARACTER_SET,
    tags::PATIENT_NAME,
    tags::PATIENT_ID,
    tags::ISSUER_OF_PATIENT_ID,
    tags::PATIENT_BIRTH_DATE,
    tags::PATIENT_SEX,
    tags::STUDY_INSTANCE_UID,
    tags::STUDY_DATE,
    tags::STUDY_TIME,
    tags::REFERRING_PHYSICIAN_NAME,
    tags::STUDY_ID,
    tags::ACCESSION_NUMBER,
];

/// What a report needs of a received image: the copied patient and study fields and its SOP
/// class and instance (the pixels are not kept).
pub fn source_fields(image: &InMemDicomObject) -> InMemDicomObject {
    let mut obj = InMemDicomObject::new_empty();
    for tag in COPIED
        .iter()
        .chain(&[tags::SOP_CLASS_UID, tags::SOP_INSTANCE_UID])
    {
        if let Some(e) = image.get(*tag) {
            obj.put(e.clone());
        }
    }
    obj
}

/// The Encapsulated PDF instance of a report about `source`: the same patient and study, a new
/// series and instance. Returns its SOP Instance UID and the data set. `now`: content date and
/// time (DICOM DA, TM).
pub fn encapsulated_pdf(
    source: &InMemDicomObject,
    pdf: &[u8],
    (date, time): (String, String),
) -> anyhow::Result<(String, InMemDicomObject)> {
    let mut obj = InMemDicomObject::new_empty();
    for tag in COPIED {
        if let Some(e) = source.get(tag) {
            obj.put(e.clone());
        }
    }
    // Type 2 fields the source lacked: present and empty.
    for (tag, vr) in [
        (tags::PATIENT_NAME, VR::PN),
        (tags::PATIENT_ID, VR::LO),
        (tags::PATIENT_BIRTH_DATE, VR::DA),
        (tags::PATIENT_SEX, VR::CS),
        (tags::STUDY_DATE, VR::DA),
        (tags::STUDY_TIME, VR::TM),
        (tags::REFERRING_PHYSICIAN_NAME, VR::PN),
        (tags::STUDY_ID, VR::SH),
        (tags::ACCESSION_NUMBER, VR::SH),
    ] {
        if obj.get(tag).is_none() {
            obj.put(DataElement::new(tag, vr, PrimitiveValue::Empty));
        }
    }
    if obj.get(tags::STUDY_INSTANCE_UID).is_none() {
        // A conforming image always has one; without it the report starts a study of its own.
        put_str(&mut obj, tags::STUDY_INSTANCE_UID, VR::UI, &new_uid()?);
    }
    let sop_instance = new_uid()?;
    put_str(
        &mut obj,
        tags::SOP_CLASS_UID,
        VR::UI,
        uids::ENCAPSULATED_PDF_STORAGE,
    );
    put_str(&mut obj, tags::SOP_INSTANCE_UID, VR::UI, &sop_instance);
    put_str(&mut obj, tags::MODALITY, VR::CS, "DOC");
    put_str(&mut obj, tags::SERIES_INSTANCE_UID, VR::UI, &new_uid()?);
    put_str(&mut obj, tags::SERIES_NUMBER, VR::IS, "9901");
    put_str(
        &mut obj,
        tags::SERIES_DESCRIPTION,
        VR::LO,
        "Bone age report",
    );
    put_str(&mut obj, tags::MANUFACTURER, VR::LO, "boneage");
    put_str(
        &mut obj,
        tags::SOFTWARE_VERSIONS,
        VR::LO,
        env!("CARGO_PKG_VERSION"),
    );
    put_str(&mut obj, tags::CONVERSION_TYPE, VR::CS, "WSD");
    put_str(&mut obj, tags::INSTANCE_NUMBER, VR::IS, "1");
    put_str(&mut obj, tags::CONTENT_DATE, VR::DA, &date);
    put_str(&mut obj, tags::CONTENT_TIME, VR::TM, &time);
    put_str(
        &mut obj,
        tags::ACQUISITION_DATE_TIME,
        VR::DT,
        &format!("{date}{time}"),
    );
    // The PDF shows the radiograph (overlay) and patient data.
    put_str(&mut obj, tags::BURNED_IN_ANNOTATION, VR::CS, "YES");
    put_str(&mut obj, tags::DOCUMENT_TITLE, VR::ST, "Bone age report");
    obj.put(DataElement::new(
        tags::CONCEPT_NAME_CODE_SEQUENCE,
        VR::SQ,
        DataSetSequence::<InMemDicomObject>::new(Vec::new(), Length::UNDEFINED),
    ));
    // The image the report shows.
    let class = source
        .get(tags::SOP_CLASS_UID)
        .and_then(|e| e.to_str().ok());
    let instance = source
        .get(tags::SOP_INSTANCE_UID)
        .and_then(|e| e.to_str().ok());
    if let (Some(class), Some(instance)) = (class, instance) {
        let mut item = InMemDicomObject::new_empty();
        put_str(
            &mut item,
            tags::REFERENCED_SOP_CLASS_UID,
            VR::UI,
            class.trim_end_matches('\0'),
        );
        put_str(
            &mut item,
            tags::REFERENCED_SOP_INSTANCE_UID,
            VR::UI,
            instance.trim_end_matches('\0'),
        );
        obj.put(DataElement::new(
            tags::SOURCE_INSTANCE_SEQUENCE,
            VR::SQ,
            DataSetSequence::new(vec![item], Length::UNDEFINED),
        ));
    }
    put_str(
        &mut obj,
        tags::MIME_TYPE_OF_ENCAPSULATED_DOCUMENT,
        VR::LO,
        "application/pdf",
    );
    obj.put(DataElement::new(
        tags::ENCAPSULATED_DOCUMENT_LENGTH,
        VR::UL,
        PrimitiveValue::from(pdf.len() as u32),
    ));
    // OB values have even length: a PDF of odd length is padded with one zero byte.
    let mut doc = pdf.to_vec();
    if doc.len() % 2 == 1 {
        doc.push(0);
    }
    obj.put(DataElement::new(
        tags::ENCAPSULATED_DOCUMENT,
        VR::OB,
        PrimitiveValue::from(doc),
    ));
    Ok((sop_instance, obj))
}

fn put_str(obj: &mut InMemDicomObject, tag: Tag, vr: VR, value: &str) {
    obj.put(DataElement::new(tag, vr, PrimitiveValue::from(value)));
}

fn put_u16(obj: &mut InMemDicomObject, tag: Tag, value: u16) {
    obj.put(DataElement::new(tag, VR::US, PrimitiveValue::from(value)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_parse_and_bad_ones_are_named() {
        let d: Destination = "PACS@10.0.0.5:104".parse().unwrap();
        assert_eq!(d.ae_title, "PACS");
        assert_eq!(d.address, "10.0.0.5:104");
        assert_eq!(d.to_string(), "PACS@10.0.0.5:104");
        for bad in [
            "PACS",
            "PACS@host",
            "@host:104",
            "PACS@:104",
            "PACS@host:0",
            "PACS@host:x",
            "A VERY LONG AE TITLE@h:1",
        ] {
            assert!(bad.parse::<Destination>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_report_keeps_patient_and_study_and_gets_new_series_and_instance() {
        let mut src = InMemDicomObject::new_empty();
        put_str(
            &mut src,
            tags::SOP_CLASS_UID,
            VR::UI,
            uids::DIGITAL_X_RAY_IMAGE_STORAGE_FOR_PRESENTATION,
        );
        put_str(&mut src, tags::SOP_INSTANCE_UID, VR::UI, "1.2.3.4");
        put_str(&mut src, tags::SERIES_INSTANCE_UID, VR::UI, "1.2.3");
        put_str(&mut src, tags::STUDY_INSTANCE_UID, VR::UI, "1.2");
        put_str(&mut src, tags::PATIENT_ID, VR::LO, "P-17");
        put_str(&mut src, tags::PATIENT_NAME, VR::PN, "Doe^Jane");
        let pdf = b"%PDF-1.7 od".to_vec();
        let (uid, obj) =
            encapsulated_pdf(&src, &pdf, ("20261206".into(), "120000".into())).unwrap();
        let s = |t| {
            obj.get(t)
                .unwrap()
                .to_str()
                .unwrap()
                .trim_end_matches('\0')
                .to_string()
        };
        assert_eq!(s(tags::STUDY_INSTANCE_UID), "1.2");
        assert_eq!(s(tags::PATIENT_ID), "P-17");
        assert_eq!(s(tags::PATIENT_NAME), "Doe^Jane");
        assert_eq!(s(tags::SOP_INSTANCE_UID), uid);
        assert_ne!(s(tags::SERIES_INSTANCE_UID), "1.2.3");
        assert!(uid.starts_with("2.25.") && uid.len() <= 64);
        assert_eq!(s(tags::MODALITY), "DOC");
        assert_eq!(
            s(tags::MIME_TYPE_OF_ENCAPSULATED_DOCUMENT),
            "application/pdf"
        );
        assert!(
            obj.get(tags::ACCESSION_NUMBER).is_some(),
            "type 2 fields present"
        );
        let doc = obj
            .get(tags::ENCAPSULATED_DOCUMENT)
            .unwrap()
            .to_bytes()
            .unwrap();
        assert_eq!(doc.len(), 12, "an odd PDF padded to even length");
        assert_eq!(&doc[..11], &pdf[..]);
        let length = obj.get(tags::ENCAPSULATED_DOCUMENT_LENGTH).unwrap();
        assert_eq!(length.to_int::<u32>().unwrap(), 11, "the PDF's own length");
        let other = encapsulated_pdf(&src, &pdf, ("20261206".into(), "120000".into()))
            .unwrap()
            .0;
        assert_ne!(other, uid, "each report its own instance UID");
    }
}
