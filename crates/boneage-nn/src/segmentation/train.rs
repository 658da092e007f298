//! Training the U-Net.

use super::*;

/// Per-epoch numbers of a segmentation training.
#[derive(Debug, Clone, Serialize)]
pub struct SegEpoch {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean BCE + Dice loss.
    pub loss: f64,
    /// Mean IoU on the validation pairs at the input size (NaN without validation pairs).
    pub valid_iou: f64,
    /// Seconds the epoch took.
    pub seconds: f64,
}

impl SegModel {
    /// Trains on `train` for `config.epochs` epochs (continuing from the current weights),
    /// keeping the weights of the epoch with the best validation IoU when `valid` is not
    /// empty. `on_epoch` sees each epoch's numbers as they come.
    pub fn train(
        &mut self,
        train: &[SegPair],
        valid: &[SegPair],
        on_epoch: &mut dyn FnMut(&SegEpoch),
    ) -> Result<Vec<SegEpoch>, TrainError> {
        if train.is_empty() {
            return Err(bad_config("no training masks"));
        }
        let cfg = self.config.clone();
        let fit = Fit {
            epochs: cfg.epochs,
            batch_size: cfg.batch_size,
            lr: cfg.lr,
            weight_decay: cfg.weight_decay,
            seed: cfg.seed,
        };
        let device = self.vs.device();
        let net = &self.net;
        let mut history = Vec::new();
        fit::run(
            &self.vs,
            &fit,
            train.len(),
            "segmentation",
            &mut |chunk, epoch, b| {
                let pairs: Vec<(GrayImage, GrayImage)> =
                    fit::draw_batch(chunk, cfg.seed, epoch, b, |i, r| {
                        train[i].augmented(&cfg.augment, r)
                    });
                let (x, y) = stack(&pairs, device);
                bce_dice_loss(&net.forward(&x, true), &y)
            },
            &|| {
                if valid.is_empty() {
                    f64::NAN
                } else {
                    self.input_iou(valid)
                }
            },
            true,
            &mut |epoch, loss, valid_iou, seconds| {
                let e = SegEpoch {
                    epoch,
                    loss,
                    valid_iou,
                    seconds,
                };
                on_epoch(&e);
                history.push(e);
            },
        )?;
        Ok(history)
    }

    /// Mean IoU of thresholded predictions against the pairs' masks, at the input size.
    pub fn input_iou(&self, pairs: &[SegPair]) -> f64 {
        let mut sum = 0.0;
        for chunk in pairs.chunks(self.config.batch_size) {
            let imgs = fit::standardized(chunk.iter().map(|p| &p.image));
            let probs = self.probabilities(&imgs);
            for (p, pair) in probs.iter().zip(chunk) {
                let a = Mask::threshold(p, self.config.threshold as f32);
                let b = Mask::threshold(&pair.mask, 0.5);
                sum += a.iou(&b);
            }
        }
        sum / pairs.len().max(1) as f64
    }
}

pub(super) fn stack(pairs: &[(GrayImage, GrayImage)], device: Device) -> (Tensor, Tensor) {
    let imgs: Vec<&GrayImage> = pairs.iter().map(|p| &p.0).collect();
    let masks: Vec<&GrayImage> = pairs.iter().map(|p| &p.1).collect();
    (
        crate::tensor::batch_to_tensor(&imgs)
            .expect("same-size inputs")
            .to_device(device),
        crate::tensor::batch_to_tensor(&masks)
            .expect("same-size masks")
            .to_device(device),
    )
}
