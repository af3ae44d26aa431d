//! The serving side of the recommendations' ALS model (docs/recommendations.md#serving): a generation's factors,
//! each user's preferences, the fold-in of a user's preferences into a vector against the fixed item factors, and
//! the top-N scans. Training is Spark's (jobs/ Train.java); the fold-in solves the same normal equations Spark's
//! implicit ALS solves for a user in its last half-iteration, so a user folded in from the preferences they were
//! trained with gets the vector training gave them, up to the iterations' convergence.

use nalgebra::{DMatrix, DVector};
use std::collections::{BinaryHeap, HashMap};

/// ALS's parameters, as the generation's meta.json records them.
#[derive(Clone, Copy, Debug)]
pub struct Params {
    pub rank: usize,
    /// Regularisation, scaled by the user's number of positive preferences, as Spark's ALS scales it.
    pub reg_param: f64,
    /// Confidence per unit of strength: a preference of strength s counts 1 + alpha × s.
    pub alpha: f64,
}

/// A user's preferences: item index and summed strength, sorted by item index.
pub type Prefs = Vec<(u32, f32)>;

/// One scored item of an answer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scored {
    pub item: u32,
    pub score: f32,
}

impl Eq for Scored {}

impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Reversed, so that `BinaryHeap` (a max-heap) keeps the worst of the best at its top: a lower score, or on a tie
/// the larger item index, is "greater".
impl Ord for Scored {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other
            .score
            .total_cmp(&self.score)
            .then(self.item.cmp(&other.item))
    }
}

/// Why a model cannot be built from a generation's files.
#[derive(Debug, PartialEq)]
pub enum ModelError {
    Shape(String),
}

impl std::fmt::Display for ModelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModelError::Shape(s) => f.write_str(s),
        }
    }
}

/// A generation being served: the item factors (fixed), every user's vector and preferences, and the users folded
/// in since it was loaded.
pub struct Model {
    params: Params,
    items: Vec<String>,
    item_index: HashMap<String, u32>,
    /// Item factors, `rank` floats a row.
    y: Vec<f32>,
    /// Each item row's Euclidean norm, for cosine similarity.
    norms: Vec<f32>,
    /// Yᵀ Y, `rank` × `rank`.
    yty: DMatrix<f64>,
    users: HashMap<String, u32>,
    /// User vectors, `rank` floats a row; a removed user's row stays, unreachable.
    x: Vec<f32>,
    prefs: Vec<Prefs>,
}

impl Model {
    /// Builds the model from a generation: its item ids and factors, its user ids and factors, and `strengths`,
    /// records of (user index u32, item index u32, strength f32), little-endian.
    pub fn new(
        params: Params,
        items: Vec<String>,
        item_factors: &[u8],
        users: Vec<String>,
        user_factors: &[u8],
        strengths: &[u8],
    ) -> Result<Self, ModelError> {
        let rank = params.rank;
        if rank == 0 {
            return Err(ModelError::Shape("rank must be at least 1".into()));
        }
        let y = floats(item_factors, items.len(), rank, "item factors")?;
        let x = floats(user_factors, users.len(), rank, "user factors")?;
        if !strengths.len().is_multiple_of(12) {
            return Err(ModelError::Shape(format!(
                "strengths hold {} bytes, not a whole number of 12-byte records",
                strengths.len()
            )));
        }
        let mut prefs: Vec<Prefs> = vec![Vec::new(); users.len()];
        for r in strengths.chunks_exact(12) {
            let u = u32::from_le_bytes(r[0..4].try_into().unwrap());
            let i = u32::from_le_bytes(r[4..8].try_into().unwrap());
            let s = f32::from_le_bytes(r[8..12].try_into().unwrap());
            if u as usize >= users.len() || i as usize >= items.len() {
                return Err(ModelError::Shape(format!(
                    "a strength names user {u} or item {i}, beyond {} users and {} items",
                    users.len(),
                    items.len()
                )));
            }
            prefs[u as usize].push((i, s));
        }
        for p in &mut prefs {
            merge_sorted(p);
        }
        let norms = y
            .chunks_exact(rank)
            .map(|row| row.iter().map(|v| v * v).sum::<f32>().sqrt())
            .collect();
        let ym = DMatrix::from_row_slice(
            items.len(),
            rank,
            &y.iter().map(|&v| v as f64).collect::<Vec<_>>(),
        );
        let yty = ym.transpose() * &ym;
        let item_index = index(&items)?;
        let user_index = index(&users)?;
        Ok(Self {
            params,
            items,
            item_index,
            y,
            norms,
            yty,
            users: user_index,
            x,
            prefs,
        })
    }

    pub fn item_count(&self) -> usize {
        self.items.len()
    }

    pub fn user_count(&self) -> usize {
        self.users.len()
    }

    pub fn item_name(&self, i: u32) -> &str {
        &self.items[i as usize]
    }

    pub fn item(&self, name: &str) -> Option<u32> {
        self.item_index.get(name).copied()
    }

    pub fn user(&self, name: &str) -> Option<u32> {
        self.users.get(name).copied()
    }

    pub fn prefs(&self, u: u32) -> &Prefs {
        &self.prefs[u as usize]
    }

    /// Adds `strength` to the user's preference for `item` and folds the user in again; a user the model does not
    /// know yet gets a row of their own. False when the item is not in the model (nothing changes then).
    pub fn add(&mut self, user: &str, item: &str, strength: f32) -> bool {
        let Some(i) = self.item(item) else {
            return false;
        };
        let u = match self.users.get(user) {
            Some(&u) => u,
            None => {
                let u = self.prefs.len() as u32;
                self.prefs.push(Vec::new());
                self.x.extend(std::iter::repeat_n(0.0, self.params.rank));
                self.users.insert(user.to_string(), u);
                u
            }
        };
        let prefs = &mut self.prefs[u as usize];
        match prefs.binary_search_by_key(&i, |p| p.0) {
            Ok(k) => prefs[k].1 += strength,
            Err(k) => prefs.insert(k, (i, strength)),
        }
        let v = self.fold_in(&self.prefs[u as usize]);
        let rank = self.params.rank;
        self.x[u as usize * rank..(u as usize + 1) * rank].copy_from_slice(&v);
        true
    }

    /// Forgets the user: their vector and preferences are no longer reachable. False when the model did not know them.
    pub fn remove(&mut self, user: &str) -> bool {
        match self.users.remove(user) {
            Some(u) => {
                self.prefs[u as usize] = Vec::new();
                let rank = self.params.rank;
                self.x[u as usize * rank..(u as usize + 1) * rank].fill(0.0);
                true
            }
            None => false,
        }
    }

    /// The user vector that implicit ALS gives these preferences against the fixed item factors:
    /// (YᵀY + Σ c₁ yyᵀ + λ·n·I) x = Σ (1 + c₁) y, with c₁ = alpha × strength for each positive preference and n
    /// their number (Spark's `computeFactors` for implicit preferences, Cholesky solve).
    pub fn fold_in(&self, prefs: &[(u32, f32)]) -> Vec<f32> {
        let rank = self.params.rank;
        let mut a = self.yty.clone();
        let mut b = DVector::<f64>::zeros(rank);
        let mut n = 0usize;
        for &(i, s) in prefs {
            let c1 = self.params.alpha * (s as f64).abs();
            let row = &self.y[i as usize * rank..(i as usize + 1) * rank];
            if s > 0.0 {
                n += 1;
                for (k, &v) in row.iter().enumerate() {
                    b[k] += (1.0 + c1) * v as f64;
                }
            }
            for r in 0..rank {
                let yr = row[r] as f64 * c1;
                for c in 0..rank {
                    a[(r, c)] += yr * row[c] as f64;
                }
            }
        }
        let lambda = self.params.reg_param * n as f64;
        for k in 0..rank {
            a[(k, k)] += lambda;
        }
        let solved = match a.clone().cholesky() {
            Some(ch) => ch.solve(&b),
            // Not positive definite (no regularisation and too few preferences): the least-squares solution.
            None => a
                .svd(true, true)
                .solve(&b, 1e-9)
                .unwrap_or_else(|_| DVector::zeros(rank)),
        };
        solved.iter().map(|&v| v as f32).collect()
    }

    /// The vector of user row `u`.
    pub fn vector(&self, u: u32) -> &[f32] {
        let rank = self.params.rank;
        &self.x[u as usize * rank..(u as usize + 1) * rank]
    }

    /// The `n` items with the best dot product with `v`, best first, leaving out those in `exclude` (sorted by index).
    pub fn top(&self, v: &[f32], n: usize, exclude: &[(u32, f32)]) -> Vec<Scored> {
        let rank = self.params.rank;
        let mut heap = BinaryHeap::with_capacity(n + 1);
        if n == 0 {
            return Vec::new();
        }
        let mut skip = exclude.iter().map(|p| p.0).peekable();
        for (i, row) in self.y.chunks_exact(rank).enumerate() {
            let i = i as u32;
            while skip.peek().is_some_and(|&e| e < i) {
                skip.next();
            }
            if skip.peek() == Some(&i) {
                continue;
            }
            offer(
                &mut heap,
                n,
                Scored {
                    item: i,
                    score: dot(v, row),
                },
            );
        }
        sorted(heap)
    }

    /// The `n` items most like `item` by the cosine of their factors, best first, the item itself left out.
    pub fn similar(&self, item: u32, n: usize) -> Vec<Scored> {
        self.most_like(item, 0..self.items.len() as u32, n)
    }

    /// Of the items in `prefs`, the `n` most like `item` by cosine, best first: why `item` was recommended.
    pub fn because(&self, prefs: &[(u32, f32)], item: u32, n: usize) -> Vec<Scored> {
        self.most_like(item, prefs.iter().map(|p| p.0), n)
    }

    /// Of `candidates`, the `n` most like `item` by the cosine of their factors, best first, `item` left out.
    fn most_like(&self, item: u32, candidates: impl Iterator<Item = u32>, n: usize) -> Vec<Scored> {
        if n == 0 {
            return Vec::new();
        }
        let v = self.row(item);
        let norm = self.norms[item as usize];
        let mut heap = BinaryHeap::with_capacity(n + 1);
        for j in candidates.filter(|&j| j != item) {
            let score = cosine(dot(v, self.row(j)), norm, self.norms[j as usize]);
            offer(&mut heap, n, Scored { item: j, score });
        }
        sorted(heap)
    }

    fn row(&self, i: u32) -> &[f32] {
        let rank = self.params.rank;
        &self.y[i as usize * rank..(i as usize + 1) * rank]
    }
}

fn offer(heap: &mut BinaryHeap<Scored>, n: usize, s: Scored) {
    if heap.len() < n {
        heap.push(s);
    } else if heap.peek().is_some_and(|worst| s < *worst) {
        heap.pop();
        heap.push(s);
    }
}

/// Best first.
fn sorted(heap: BinaryHeap<Scored>) -> Vec<Scored> {
    heap.into_sorted_vec()
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn cosine(dot: f32, a: f32, b: f32) -> f32 {
    if a == 0.0 || b == 0.0 {
        0.0
    } else {
        dot / (a * b)
    }
}

/// Sorts preferences by item and sums the strengths of an item named more than once.
pub fn merge_sorted(p: &mut Prefs) {
    p.sort_by_key(|e| e.0);
    p.dedup_by(|later, kept| {
        if later.0 == kept.0 {
            kept.1 += later.1;
            true
        } else {
            false
        }
    });
}

fn floats(bytes: &[u8], rows: usize, rank: usize, what: &str) -> Result<Vec<f32>, ModelError> {
    if bytes.len() != rows * rank * 4 {
        return Err(ModelError::Shape(format!(
            "the {what} hold {} bytes, not {rows} rows of {rank} floats",
            bytes.len()
        )));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect())
}

fn index(names: &[String]) -> Result<HashMap<String, u32>, ModelError> {
    let mut map = HashMap::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        if map.insert(name.clone(), i as u32).is_some() {
            return Err(ModelError::Shape(format!("{name:?} is named twice")));
        }
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|f| f.to_le_bytes()).collect()
    }

    fn strengths(r: &[(u32, u32, f32)]) -> Vec<u8> {
        r.iter()
            .flat_map(|&(u, i, s)| [u.to_le_bytes(), i.to_le_bytes(), s.to_le_bytes()].concat())
            .collect()
    }

    /// Three items on two axes: a and b along the first, c along the second.
    fn model() -> Model {
        let items = vec!["a".to_string(), "b".into(), "c".into()];
        let y = [1.0, 0.0, 0.9, 0.1, 0.0, 1.0];
        let users = vec!["l:ann".to_string()];
        let x = [1.0, 0.0];
        let params = Params {
            rank: 2,
            reg_param: 0.1,
            alpha: 1.0,
        };
        Model::new(
            params,
            items,
            &bytes(&y),
            users,
            &bytes(&x),
            &strengths(&[(0, 0, 1.0)]),
        )
        .unwrap()
    }

    #[test]
    fn top_leaves_out_what_the_user_has_and_ranks_the_rest() {
        let m = model();
        let u = m.user("l:ann").unwrap();
        let top = m.top(m.vector(u), 5, m.prefs(u));
        assert_eq!(top.iter().map(|s| s.item).collect::<Vec<_>>(), vec![1, 2]);
        assert!(top[0].score > top[1].score);
    }

    #[test]
    fn fold_in_solves_the_implicit_normal_equations() {
        let m = model();
        let v = m.fold_in(&[(2, 3.0)]);
        // A = YᵀY + 3·c cᵀ + 0.1·I; b = 4·c, with c = (0, 1): solved by hand.
        let yty = [[1.81, 0.09], [0.09, 1.01]];
        let a = [
            [yty[0][0] + 0.1, yty[0][1]],
            [yty[1][0], yty[1][1] + 3.0 + 0.1],
        ];
        let det = a[0][0] * a[1][1] - a[0][1] * a[1][0];
        let want = [(-a[0][1] * 4.0) / det, (a[0][0] * 4.0) / det];
        assert!((v[0] as f64 - want[0]).abs() < 1e-5, "{v:?} vs {want:?}");
        assert!((v[1] as f64 - want[1]).abs() < 1e-5, "{v:?} vs {want:?}");
    }

    #[test]
    fn a_new_signal_moves_the_user_towards_its_item() {
        let mut m = model();
        assert!(m.add("l:bob", "c", 5.0));
        let u = m.user("l:bob").unwrap();
        assert_eq!(m.top(m.vector(u), 1, &[]).first().map(|s| s.item), Some(2));
        assert!(
            !m.add("l:bob", "nosuch", 1.0),
            "an unknown item changes nothing"
        );
        assert_eq!(m.prefs(u), &vec![(2, 5.0)]);
        assert!(m.add("l:bob", "c", 1.0));
        assert_eq!(m.prefs(u), &vec![(2, 6.0)], "strengths of one item add up");
    }

    #[test]
    fn similar_and_because_rank_by_cosine() {
        let m = model();
        assert_eq!(m.similar(0, 1)[0].item, 1);
        let why = m.because(&[(0, 1.0), (2, 1.0)], 1, 2);
        assert_eq!(why.iter().map(|s| s.item).collect::<Vec<_>>(), vec![0, 2]);
    }

    #[test]
    fn remove_forgets_the_user() {
        let mut m = model();
        assert!(m.remove("l:ann"));
        assert_eq!(m.user("l:ann"), None);
        assert!(!m.remove("l:ann"));
    }

    #[test]
    fn files_that_disagree_are_refused() {
        let p = Params {
            rank: 2,
            reg_param: 0.1,
            alpha: 1.0,
        };
        let e = Model::new(p, vec!["a".into()], &bytes(&[1.0]), vec![], &[], &[])
            .err()
            .unwrap();
        assert_eq!(
            e.to_string(),
            "the item factors hold 4 bytes, not 1 rows of 2 floats"
        );
        let e = Model::new(
            p,
            vec!["a".into()],
            &bytes(&[1.0, 0.0]),
            vec![],
            &[],
            &strengths(&[(0, 0, 1.0)]),
        )
        .err()
        .unwrap();
        assert_eq!(
            e.to_string(),
            "a strength names user 0 or item 0, beyond 0 users and 1 items"
        );
        let e = Model::new(
            p,
            vec!["a".into(), "a".into()],
            &bytes(&[1.0, 0.0, 0.0, 1.0]),
            vec![],
            &[],
            &[],
        )
        .err()
        .unwrap();
        assert_eq!(e.to_string(), "\"a\" is named twice");
    }
}
