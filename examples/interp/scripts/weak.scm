; weak.scm: weak references and finalizers. A weak-valued cache keeps an
; entry only while something else holds its value. Resources have a
; finalizer that logs their name; it runs when a resource dies by count,
; or once the collector found the cycle that held it.
; expect: ((#t #t #f #f #f) 3 ("a" "b" "c" "cyc1" "cyc2") #t)

(define cache (make-dict))
(define (cache-put! key value) (dict-set! cache key (make-weak value)))
(define (cache-get key) (weak-get (dict-ref cache key)))

(define keep1 (list 'one))
(define keep2 (list 'two))
(cache-put! 'one keep1)
(cache-put! 'two keep2)
(cache-put! 'three (list 'three))         ; nothing else holds it: dies now
(let ((x (list 'four))) (cache-put! 'four x))
(define cyc (list 'five))
(set-car! cyc cyc)                        ; a pair that holds itself
(cache-put! 'five cyc)
(set! cyc #f)                             ; only the cycle collector frees it

(define (use-resource name)               ; dies by count when the call returns
  (let ((r (make-resource name)))
    (string-length name)))
(use-resource "a")
(define b (make-resource "b"))
(set! b #f)
(define holder (list (make-resource "c")))
(set! holder #f)

(define (make-cyclic-resources)           ; held only by a dictionary in a cycle
  (let ((d (make-dict)))
    (dict-set! d 'r1 (make-resource "cyc1"))
    (dict-set! d 'r2 (make-resource "cyc2"))
    (dict-set! d 'self d)
    'made))
(make-cyclic-resources)

(collect)
(display "finalized: ") (display (finalized)) (newline)

(list (map (lambda (k) (if (cache-get k) #t #f)) '(one two three four five))
      (weak-cleared)
      (finalized)
      (eq? (cache-get 'one) keep1))
