use super::*;

#[test]
fn box_blur_keeps_constants_and_mass() {
    let mut v = vec![2.0f32; 30 * 20];
    box_blur(&mut v, 30, 20, 3);
    assert!(v.iter().all(|x| (x - 2.0).abs() < 1e-5));
}

#[test]
fn integral_counts() {
    let mut b = vec![false; 10 * 8];
    b[3 * 10 + 4] = true;
    b[7 * 10 + 9] = true;
    let s = Integral::new(&b, 10, 8);
    assert_eq!(s.sum(0, 0, 10, 8), 2);
    assert_eq!(s.sum(4, 3, 5, 4), 1);
    assert_eq!(s.sum(0, 0, 4, 3), 0);
}

#[test]
fn percentile_picks_order_statistics() {
    let mut v: Vec<f32> = (0..101).rev().map(|x| x as f32).collect();
    assert_eq!(percentile(&mut v, 0.5), Some(50.0));
    assert_eq!(percentile(&mut v, 1.0), Some(100.0));
    assert_eq!(percentile(&mut [], 0.5), None);
}
