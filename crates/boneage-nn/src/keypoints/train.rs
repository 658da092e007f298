//! Training the keypoint net.

use super::*;

/// Per-epoch numbers of a keypoint training.
#[derive(Debug, Clone, Serialize)]
pub struct KeypointEpoch {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean L1 loss (fractions of the input size).
    pub loss: f64,
    /// Mean keypoint error on the validation pairs, as a fraction of the input's height
    /// (NaN without validation pairs).
    pub valid_error: f64,
    /// Seconds the epoch took.
    pub seconds: f64,
}

impl KeypointModel {
    /// Trains for `config.epochs` epochs, keeping the epoch with the lowest validation error
    /// when `valid` is not empty.
    pub fn train(
        &mut self,
        train: &[KeypointPair],
        valid: &[KeypointPair],
        on_epoch: &mut dyn FnMut(&KeypointEpoch),
    ) -> Result<Vec<KeypointEpoch>, TrainError> {
        if train.is_empty() {
            return Err(bad_config("no training keypoints"));
        }
        let cfg = self.config.clone();
        let (w, h) = cfg.size();
        // Start the output at the mean keypoints.
        let mut prior = [0f32; 6];
        for p in train {
            for k in 0..3 {
                prior[2 * k] += (p.points[k][0] / w as f64) as f32 / train.len() as f32;
                prior[2 * k + 1] += (p.points[k][1] / h as f64) as f32 / train.len() as f32;
            }
        }
        self.net.set_output_prior(&prior, 0.1);
        let fit = Fit {
            epochs: cfg.epochs,
            batch_size: cfg.batch_size,
            lr: cfg.lr,
            weight_decay: cfg.weight_decay,
            seed: cfg.seed,
        };
        let device = self.vs.device();
        let mut history = Vec::new();
        fit::run(
            &self.vs,
            &fit,
            train.len(),
            "keypoint",
            &mut |chunk, epoch, b| {
                let items: Vec<(GrayImage, Keypoints)> =
                    fit::draw_batch(chunk, cfg.seed, epoch, b, |i, r| {
                        train[i].augmented(&cfg.augment, r)
                    });
                let imgs: Vec<&GrayImage> = items.iter().map(|x| &x.0).collect();
                let x = crate::tensor::batch_to_tensor(&imgs)
                    .expect("same-size inputs")
                    .to_device(device);
                let target: Vec<f32> = items
                    .iter()
                    .flat_map(|(_, p)| {
                        p.iter()
                            .flat_map(|q| [(q[0] / w as f64) as f32, (q[1] / h as f64) as f32])
                            .collect::<Vec<_>>()
                    })
                    .collect();
                let y = Tensor::from_slice(&target)
                    .view([items.len() as i64, 6])
                    .to_device(device);
                self.forward(&x, true).l1_loss(&y, tch::Reduction::Mean)
            },
            &|| {
                if valid.is_empty() {
                    f64::NAN
                } else {
                    self.input_error(valid)
                }
            },
            false,
            &mut |epoch, loss, valid_error, seconds| {
                let e = KeypointEpoch {
                    epoch,
                    loss,
                    valid_error,
                    seconds,
                };
                on_epoch(&e);
                history.push(e);
            },
        )?;
        Ok(history)
    }

    /// Mean keypoint error on pairs (no augmentation), as a fraction of the input's height.
    pub fn input_error(&self, pairs: &[KeypointPair]) -> f64 {
        let h = self.config.size().1 as f64;
        let mut sum = 0.0;
        for chunk in pairs.chunks(self.config.batch_size) {
            let imgs = fit::standardized(chunk.iter().map(|p| &p.image));
            for (pred, pair) in self.predict_inputs(&imgs).iter().zip(chunk) {
                sum += mean_distance(pred, &pair.points) / h;
            }
        }
        sum / pairs.len().max(1) as f64
    }
}
